package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smsflow/payloadcodec"
)

// testPayloadKeys are payload keys of these tests.
const testPayloadKeys = "t1:" + "q0bWl6mV1xq5fO2J8u3WmZ4yq1T0n9c8b7a6Z5Y4X3w="

func TestTemporalClientOptionsPlain(t *testing.T) {
	o, err := Config{TemporalAddress: "t:7233", TemporalNamespace: "ns", PayloadKeys: testPayloadKeys}.TemporalClientOptions()
	if err != nil || o.HostPort != "t:7233" || o.Namespace != "ns" || o.ConnectionOptions.TLS != nil || o.Credentials != nil {
		t.Fatalf("options = %+v %v", o, err)
	}
	o, err = Config{Temporal: Temporal{APIKey: "k"}, PayloadKeys: testPayloadKeys}.TemporalClientOptions()
	if err != nil || o.Credentials == nil || o.ConnectionOptions.TLS == nil {
		t.Fatalf("with an API key: credentials %v, TLS %v, %v", o.Credentials, o.ConnectionOptions.TLS, err)
	}
}

// writePEM writes a PEM block of typ to a file in dir and returns its path.
func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The options built from the TLS variables complete a mutual TLS handshake with a server that
// requires a client certificate, trusting only the configured CA.
func TestTemporalClientOptionsMutualTLS(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smsflow-worker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	clientCert := writePEM(t, dir, "client.pem", "CERTIFICATE", der)
	clientKey := writePEM(t, dir, "client.key", "EC PRIVATE KEY", keyDER)
	clientParsed, _ := x509.ParseCertificate(der)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.TLS.PeerCertificates[0].Subject.CommonName))
	}))
	cas := x509.NewCertPool()
	cas.AddCert(clientParsed)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: cas}
	srv.StartTLS()
	defer srv.Close()
	ca := writePEM(t, dir, "ca.pem", "CERTIFICATE", srv.Certificate().Raw)

	env := map[string]string{"PAYLOAD_KEYS": testPayloadKeys, "TEMPORAL_ADDRESS": strings.TrimPrefix(srv.URL, "https://"), "TEMPORAL_TLS_CERT": clientCert,
		"TEMPORAL_TLS_KEY": clientKey, "TEMPORAL_TLS_CA": ca, "TEMPORAL_TLS_SERVER_NAME": "example.com"}
	c, err := FromLookup(lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.TemporalClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	get := func(cfg *tls.Config) (string, error) {
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}).Get(srv.URL)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b := make([]byte, 64)
		n, _ := resp.Body.Read(b)
		return string(b[:n]), nil
	}
	if who, err := get(o.ConnectionOptions.TLS); err != nil || who != "smsflow-worker" {
		t.Fatalf("mutual TLS with the configured options: %q %v", who, err)
	}
	// Without the client certificate the server refuses; with the system CAs the client refuses.
	noCert := o.ConnectionOptions.TLS.Clone()
	noCert.Certificates = nil
	if _, err := get(noCert); err == nil {
		t.Fatal("the server accepted a client without a certificate: the test proves nothing")
	}
	env["TEMPORAL_TLS_CA"] = ""
	c, _ = FromLookup(lookup(env))
	o, _ = c.TemporalClientOptions()
	if _, err := get(o.ConnectionOptions.TLS); err == nil {
		t.Fatal("a self-signed server was trusted without TEMPORAL_TLS_CA")
	}

	for name, broken := range map[string]map[string]string{
		"TEMPORAL_TLS_CA":   {"TEMPORAL_TLS_CA": filepath.Join(dir, "client.key")},
		"TEMPORAL_TLS_CERT": {"TEMPORAL_TLS_CERT": filepath.Join(dir, "missing.pem")},
	} {
		e := map[string]string{"PAYLOAD_KEYS": testPayloadKeys, "TEMPORAL_TLS_CERT": clientCert, "TEMPORAL_TLS_KEY": clientKey}
		for k, v := range broken {
			e[k] = v
		}
		c, _ := FromLookup(lookup(e))
		if _, err := c.TemporalClientOptions(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("broken %s: error %v", name, err)
		}
	}
}

// Every client the options make encrypts its payloads and failure messages with PAYLOAD_KEYS;
// without keys there are no options at all.
func TestTemporalClientOptionsEncryptPayloads(t *testing.T) {
	o, err := Config{PayloadKeys: testPayloadKeys}.TemporalClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	p, err := o.DataConverter.ToPayload("+33612345600")
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Metadata["encoding"]) != payloadcodec.Encoding || string(p.Metadata[payloadcodec.MetadataKeyID]) != "t1" ||
		strings.Contains(string(p.Data), "612345600") {
		t.Fatalf("payload not encrypted with key t1: %v", p)
	}
	f := o.FailureConverter.ErrorToFailure(errors.New("send to +33612345600 failed"))
	if strings.Contains(f.GetMessage(), "612345600") || f.GetEncodedAttributes() == nil {
		t.Fatalf("failure message in clear: %q", f.GetMessage())
	}
	if _, err := (Config{}).TemporalClientOptions(); err == nil || !strings.Contains(err.Error(), "PAYLOAD_KEYS") {
		t.Fatalf("options without payload keys: %v", err)
	}
	if _, err := (Config{PayloadKeys: "t1:c2hvcnQ="}).TemporalClientOptions(); err == nil {
		t.Fatal("options with a 5-byte key")
	}
}
