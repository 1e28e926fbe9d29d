package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"go.temporal.io/sdk/client"

	"smsflow/metrics"
)

// TemporalClientOptions returns the options that connect to Temporal as configured: address,
// namespace, TLS (mutual when a client certificate is given) and the Cloud API key. The caller
// adds its logger. The SDK's metrics go to the process's Prometheus registry. TLS is on when any TEMPORAL_TLS_* variable or the API key is set.
func (c Config) TemporalClientOptions() (client.Options, error) {
	o := client.Options{HostPort: c.TemporalAddress, Namespace: c.TemporalNamespace}
	o.MetricsHandler = metrics.Temporal
	t := c.Temporal
	if t.APIKey != "" {
		o.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey)
	}
	if t.TLSCert == "" && t.TLSKey == "" && t.TLSCA == "" && t.TLSServerName == "" {
		if t.APIKey != "" {
			// The SDK turns TLS on for an API key too; say so explicitly all the same.
			o.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		return o, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.TLSServerName}
	if (t.TLSCert == "") != (t.TLSKey == "") {
		return client.Options{}, errors.New("config: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: set both or neither")
	}
	if t.TLSCert != "" {
		pair, err := tls.LoadX509KeyPair(t.TLSCert, t.TLSKey)
		if err != nil {
			return client.Options{}, fmt.Errorf("config: TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if t.TLSCA != "" {
		pem, err := os.ReadFile(t.TLSCA)
		if err != nil {
			return client.Options{}, fmt.Errorf("config: TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return client.Options{}, fmt.Errorf("config: TEMPORAL_TLS_CA: %s holds no PEM certificate", t.TLSCA)
		}
		cfg.RootCAs = pool
	}
	o.ConnectionOptions.TLS = cfg
	return o, nil
}
