package payloadcodec_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"smsflow/payloadcodec"
)

const (
	phone = "+33612345601"
	text  = "Your code is 4711"
)

func key(id string, b byte) payloadcodec.Key {
	return payloadcodec.Key{ID: id, Secret: bytes.Repeat([]byte{b}, payloadcodec.KeySize)}
}

func mustCodec(t *testing.T, keys ...payloadcodec.Key) *payloadcodec.Codec {
	t.Helper()
	c, err := payloadcodec.New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type message struct{ Phone, Text string }

// A value goes through the data converter encrypted (neither its bytes nor its JSON metadata in
// clear) and comes back equal.
func TestRoundTrip(t *testing.T) {
	dc := payloadcodec.DataConverter(mustCodec(t, key("k1", 1)))
	p, err := dc.ToPayload(message{phone, text})
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Metadata[converter.MetadataEncoding]) != payloadcodec.Encoding || string(p.Metadata[payloadcodec.MetadataKeyID]) != "k1" || len(p.Metadata) != 2 {
		t.Fatalf("metadata = %v", p.Metadata)
	}
	for _, clear := range []string{phone, "612345601", text, "json/plain", "Phone"} {
		if bytes.Contains(p.Data, []byte(clear)) {
			t.Errorf("%q in clear in the payload", clear)
		}
	}
	var back message
	if err := dc.FromPayload(p, &back); err != nil || back != (message{phone, text}) {
		t.Fatalf("decoded %+v, %v", back, err)
	}
	// Two encodings of the same value differ (a fresh nonce each time).
	q, _ := dc.ToPayload(message{phone, text})
	if bytes.Equal(p.Data, q.Data) {
		t.Error("the same value encrypted twice gave the same bytes")
	}
	// A flipped byte is refused, not decoded to something else.
	p.Data[len(p.Data)-1] ^= 1
	if err := dc.FromPayload(p, &back); err == nil {
		t.Error("a tampered payload decoded")
	}
}

// Rotation: a codec with a new key first encrypts with it and still reads payloads of the old;
// a codec without the old key refuses them, naming the key.
func TestRotation(t *testing.T) {
	old := mustCodec(t, key("2026-01", 1))
	rotated := mustCodec(t, key("2026-11", 2), key("2026-01", 1))
	newOnly := mustCodec(t, key("2026-11", 2))
	in := []*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"` + text + `"`)}}
	fromOld, err := old.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rotated.Decode(fromOld)
	if err != nil || string(got[0].Data) != string(in[0].Data) || string(got[0].Metadata["encoding"]) != "json/plain" {
		t.Fatalf("the rotated codec read the old key's payload as %v, %v", got, err)
	}
	fromRotated, _ := rotated.Encode(in)
	if id := string(fromRotated[0].Metadata[payloadcodec.MetadataKeyID]); id != "2026-11" || rotated.NewestKeyID() != "2026-11" {
		t.Fatalf("the rotated codec encrypted with %q", id)
	}
	if _, err := old.Decode(fromRotated); !errors.Is(err, payloadcodec.ErrUnknownKey) || !strings.Contains(err.Error(), "2026-11") {
		t.Fatalf("the old codec on a new payload: %v", err)
	}
	if _, err := newOnly.Decode(fromOld); !errors.Is(err, payloadcodec.ErrUnknownKey) {
		t.Fatalf("a codec without the old key: %v", err)
	}
	// The key id is authenticated: relabelling a payload with another held key's id fails.
	fromOld[0].Metadata[payloadcodec.MetadataKeyID] = []byte("2026-11")
	if _, err := rotated.Decode(fromOld); err == nil {
		t.Fatal("a payload relabelled with another key id decoded")
	}
}

// Payloads the codec did not encode (histories recorded before encryption) pass through as they
// are, as do nil and binary payloads.
func TestPassThrough(t *testing.T) {
	c := mustCodec(t, key("k1", 1))
	plain, err := converter.GetDefaultDataConverter().ToPayloads(message{phone, text}, nil, []byte{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Decode(plain.Payloads)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != plain.Payloads[i] {
			t.Errorf("payload %d changed", i)
		}
	}
	var m message
	if err := payloadcodec.DataConverter(c).FromPayloads(plain, &m); err != nil || m.Phone != phone {
		t.Fatalf("an unencrypted payload read as %+v, %v", m, err)
	}
}

// Failure messages and stack traces are encrypted too.
func TestFailureMessagesEncrypted(t *testing.T) {
	dc := payloadcodec.DataConverter(mustCodec(t, key("k1", 1)))
	fc := payloadcodec.FailureConverter(dc)
	f := fc.ErrorToFailure(errors.New("carrier refused " + phone))
	if strings.Contains(f.String(), "612345601") {
		t.Fatalf("phone in clear in the failure: %v", f)
	}
	if err := fc.FailureToError(f); err == nil || !strings.Contains(err.Error(), phone) {
		t.Fatalf("decoded failure: %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	k1 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	k2 := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	keys, err := payloadcodec.ParseKeys(" new:" + k2 + " , old:" + k1 + ",")
	if err != nil || len(keys) != 2 || keys[0].ID != "new" || keys[1].Secret[0] != 1 {
		t.Fatalf("keys = %v, %v", keys, err)
	}
	for _, bad := range []string{"", "k1", ":" + k1, "a b:" + k1, "a:" + k1 + ",a:" + k1, "a:%%%", "a:" + base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!"))} {
		if _, err := payloadcodec.ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		} else if strings.Contains(err.Error(), k1) {
			t.Errorf("error quotes a key: %v", err)
		}
	}
}
