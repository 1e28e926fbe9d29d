// Package payloadcodec encrypts every Temporal payload with AES-256-GCM before it leaves the
// process, so Temporal's history (and anything exported from it) holds no phone number or
// message text in clear. It is a converter.PayloadCodec: clients and workers use it through
// converter.NewCodecDataConverter, the codec server (cmd/codec-server) through
// converter.NewPayloadCodecHTTPHandler.
//
// Several keys are held for rotation: payloads are encrypted with the newest and decrypted with
// the key whose id their metadata names. Payloads this codec did not encode (histories written
// before encryption was on) pass through unchanged.
package payloadcodec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload. The encoding value follows Temporal's samples
// ("binary/encrypted"); the Web UI shows it for a payload it cannot decode.
const (
	Encoding      = "binary/encrypted"
	MetadataKeyID = "encryption-key-id"
)

// KeySize is the size of an AES-256 key.
const KeySize = 32

// ErrUnknownKey is returned for a payload encrypted with a key the codec does not hold.
var ErrUnknownKey = errors.New("payloadcodec: payload encrypted with an unknown key")

// Key is one named AES-256 key.
type Key struct {
	ID     string
	Secret []byte // KeySize bytes
}

// ParseKeys reads "id:base64key,id:base64key", newest first (the form of PAYLOAD_KEYS). Errors
// name the entry, never the key.
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	seen := map[string]bool{}
	for i, entry := range strings.Split(s, ",") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		id, encoded, ok := strings.Cut(entry, ":")
		id, encoded = strings.TrimSpace(id), strings.TrimSpace(encoded)
		if !ok || id == "" || encoded == "" || strings.ContainsAny(id, " \t") {
			return nil, fmt.Errorf("payloadcodec: entry %d is not id:base64key", i+1)
		}
		if seen[id] {
			return nil, fmt.Errorf("payloadcodec: key id %q appears twice", id)
		}
		seen[id] = true
		secret, err := decodeKey(encoded)
		if err != nil {
			return nil, fmt.Errorf("payloadcodec: key %q: %w", id, err)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	if len(keys) == 0 {
		return nil, errors.New("payloadcodec: no key")
	}
	return keys, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("%d bytes, want %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// Codec encrypts with its newest key and decrypts with any of its keys.
type Codec struct {
	newest string
	aeads  map[string]cipher.AEAD
}

// New returns a codec holding keys, the first being the newest.
func New(keys ...Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("payloadcodec: no key")
	}
	c := &Codec{newest: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range keys {
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("payloadcodec: key %q: %d bytes, want %d", k.ID, len(k.Secret), KeySize)
		}
		if _, dup := c.aeads[k.ID]; dup {
			return nil, fmt.Errorf("payloadcodec: key id %q appears twice", k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, err
		}
		if c.aeads[k.ID], err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// FromString is New(ParseKeys(keys)).
func FromString(keys string) (*Codec, error) {
	parsed, err := ParseKeys(keys)
	if err != nil {
		return nil, err
	}
	return New(parsed...)
}

// NewestKeyID is the id of the key new payloads are encrypted with.
func (c *Codec) NewestKeyID() string { return c.newest }

// Encode encrypts each whole payload (its metadata and data) into a new payload whose metadata
// says only the encoding and the key id. The key id is also authenticated data: a payload moved
// under another id does not decrypt.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.newest]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("payloadcodec: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("payloadcodec: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				MetadataKeyID:              []byte(c.newest),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(c.newest)),
		}
	}
	return out, nil
}

// Decode decrypts the payloads this codec encoded and passes every other payload through as it
// is: runs recorded before encryption was on still replay and show.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return nil, errors.New("payloadcodec: encrypted payload too short")
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("payloadcodec: decrypt with key %q: %w", id, err)
		}
		decoded := &commonpb.Payload{}
		if err := proto.Unmarshal(plain, decoded); err != nil {
			return nil, fmt.Errorf("payloadcodec: %w", err)
		}
		out[i] = decoded
	}
	return out, nil
}

// DataConverter is the SDK's default data converter with every payload encrypted by c.
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter turns errors into failures whose message and stack trace are encrypted too
// (EncodeCommonAttributes): an error quoting a phone number stays unreadable in the history.
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: dc, EncodeCommonAttributes: true})
}
