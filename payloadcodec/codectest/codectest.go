// Package codectest holds the payload key of the tests: the end-to-end harness, testenv's
// Temporal clients, the benchmark and the replay test of the recorded histories
// (workflows/testdata/histories, recorded by the harness) all use Keys.
//
// Keys is a TEST key, published in this repository: it protects nothing. config.DevSecrets lists
// it, so a service refuses it outside SMSFLOW_ENV=development.
package codectest

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"smsflow/payloadcodec"
)

// Keys is the tests' PAYLOAD_KEYS: one key, id "test".
const Keys = "test:c21zZmxvdy10ZXN0LXBheWxvYWRzLW5vdC1zZWNyZXQ="

// Codec is the codec of Keys.
func Codec() *payloadcodec.Codec {
	c, err := payloadcodec.FromString(Keys)
	if err != nil {
		panic(err) // a constant: a programming error
	}
	return c
}

// DataConverter encrypts with Keys.
func DataConverter() converter.DataConverter { return payloadcodec.DataConverter(Codec()) }

// ClientOptions returns o with the data and failure converters of Keys.
func ClientOptions(o client.Options) client.Options {
	o.DataConverter = DataConverter()
	o.FailureConverter = payloadcodec.FailureConverter(o.DataConverter)
	return o
}
