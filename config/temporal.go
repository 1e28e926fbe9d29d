package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"smsflow/metrics"
	"smsflow/payloadcodec"
)

// TemporalClientOptions returns the options that connect to Temporal as configured: address,
// namespace, TLS (mutual when a client certificate is given), the Cloud API key, and the data
// and failure converters that encrypt every payload and failure message with PAYLOAD_KEYS
// (payloadcodec). The SDK's metrics go to the process's Prometheus registry. The caller adds its
// logger. TLS is on when any TEMPORAL_TLS_* variable or the API key is set. Without payload keys
// there is no client: nothing goes to Temporal in clear.
func (c Config) TemporalClientOptions() (client.Options, error) {
	dc, err := c.PayloadDataConverter()
	if err != nil {
		return client.Options{}, err
	}
	o := client.Options{HostPort: c.TemporalAddress, Namespace: c.TemporalNamespace,
		DataConverter: dc, FailureConverter: payloadcodec.FailureConverter(dc), MetricsHandler: metrics.Temporal}
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

// PayloadDataConverter is the data converter encrypting payloads with PAYLOAD_KEYS: the one of
// TemporalClientOptions, for the code that encodes payloads itself (signalbox.ClientSignaller).
func (c Config) PayloadDataConverter() (converter.DataConverter, error) {
	if c.PayloadKeys == "" {
		return nil, errors.New("config: PAYLOAD_KEYS: must be set: Temporal payloads are always encrypted")
	}
	codec, err := payloadcodec.FromString(c.PayloadKeys)
	if err != nil {
		return nil, fmt.Errorf("config: PAYLOAD_KEYS: %w", err)
	}
	return payloadcodec.DataConverter(codec), nil
}
