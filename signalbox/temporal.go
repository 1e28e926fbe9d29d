package signalbox

import (
	"context"
	"encoding/json"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// Signaller delivers one signal to the current run of a workflow. requestID names the delivery:
// Temporal applies a signal once per request id and run, so a try repeated after its answer was
// lost (a timeout while the server restarts) adds nothing to the workflow's history.
type Signaller interface {
	Signal(ctx context.Context, workflowID, signalName string, payload []byte, requestID string) error
}

// ClientSignaller signals through a Temporal client. The SDK's SignalWorkflow makes up a new
// request id on every call; this sends ours.
type ClientSignaller struct {
	Client    client.Client
	Namespace string // "" is "default"
	// DataConverter encodes the payload; it must be the one the client uses (default: the SDK's).
	DataConverter converter.DataConverter
}

// Signal sends payload, the JSON of the signal's type, as the signal's one argument: the workflow
// decodes it as if the struct itself had been sent.
func (c ClientSignaller) Signal(ctx context.Context, workflowID, signalName string, payload []byte, requestID string) error {
	dc := c.DataConverter
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	input, err := dc.ToPayloads(json.RawMessage(payload))
	if err != nil {
		return err
	}
	ns := c.Namespace
	if ns == "" {
		ns = "default"
	}
	_, err = c.Client.WorkflowService().SignalWorkflowExecution(ctx, &workflowservice.SignalWorkflowExecutionRequest{
		Namespace: ns, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflowID}, SignalName: signalName,
		Input: input, Identity: "smsflow-signalbox", RequestId: requestID,
	})
	return err
}
