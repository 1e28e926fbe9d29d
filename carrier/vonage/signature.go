package vonage

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"net/url"
	"sort"
	"strings"
)

// Signature methods of Vonage signed requests, as chosen in the dashboard.
const (
	MethodMD5Hash = "md5hash" // the default: MD5 of the string with the secret appended
	MethodMD5     = "md5"     // HMAC-MD5
	MethodSHA1    = "sha1"
	MethodSHA256  = "sha256"
	MethodSHA512  = "sha512"
)

// Signature computes the "sig" parameter of a signed webhook: every parameter but sig, sorted by
// name, as "&name=value" with "&" and "=" in values replaced by "_"; then the MD5 of that string
// plus the secret (md5hash), or its HMAC keyed with the secret; lowercase hex.
// https://developer.vonage.com/en/getting-started/concepts/signing-messages
func Signature(secret, method string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "sig" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	clean := strings.NewReplacer("&", "_", "=", "_")
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("&" + k + "=" + clean.Replace(params.Get(k)))
	}
	var h hash.Hash
	switch method {
	case MethodMD5:
		h = hmac.New(md5.New, []byte(secret))
	case MethodSHA1:
		h = hmac.New(sha1.New, []byte(secret))
	case MethodSHA256:
		h = hmac.New(sha256.New, []byte(secret))
	case MethodSHA512:
		h = hmac.New(sha512.New, []byte(secret))
	default:
		h = md5.New()
		b.WriteString(secret)
	}
	h.Write([]byte(b.String()))
	return hex.EncodeToString(h.Sum(nil))
}

// ValidSignature checks the sig parameter (case-insensitive hex) in constant time.
func ValidSignature(secret, method string, params url.Values) bool {
	sig := strings.ToLower(params.Get("sig"))
	if secret == "" || sig == "" {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(Signature(secret, method, params)))
}

func hs256(secret, s string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(s))
	return mac.Sum(nil)
}

func hmacEqual(a, b []byte) bool { return hmac.Equal(a, b) }
