package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"smsflow/workflows"
)

// Workflows is what stopping messages needs of Temporal (client.Client).
type Workflows interface {
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	CancelWorkflow(ctx context.Context, workflowID string, runID string) error
}

// listRunning returns the ids of the running workflows query matches on taskQueue ("": any),
// page by page.
func listRunning(ctx context.Context, t Workflows, namespace, taskQueue, query string) ([]string, error) {
	query += ` AND ExecutionStatus = "Running"`
	if taskQueue != "" {
		query += " AND TaskQueue = " + quoted(taskQueue) // this deployment's, in a shared namespace
	}
	var ids []string
	var token []byte
	for {
		resp, err := t.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, PageSize: 1000, NextPageToken: token,
			Query: query,
		})
		if err != nil {
			return ids, fmt.Errorf("retention: list workflows: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ids, nil
		}
	}
}

// cancel asks each workflow to cancel (a message that had not left ends NOT_SENT with the reason
// CancellationReason gives); one already closed or gone is skipped. It returns how many were asked.
func cancel(ctx context.Context, t Workflows, ids []string) (int, error) {
	n := 0
	var errs []error
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		err := t.CancelWorkflow(ctx, id, "")
		var nf *serviceerror.NotFound
		switch {
		case err == nil:
			n++
		case errors.As(err, &nf):
		default:
			errs = append(errs, fmt.Errorf("cancel %s: %w", id, err))
		}
	}
	return n, errors.Join(errs...)
}

// quoted is a value inside a visibility query.
func quoted(v string) string { return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"` }

// messageIDOf is the message id of a message workflow's id ("sms-<uuid>"), "" for another workflow.
func messageIDOf(workflowID string) string {
	id, ok := strings.CutPrefix(workflowID, "sms-")
	if _, err := uuid.Parse(id); !ok || err != nil {
		return ""
	}
	return id
}

// PortalStopper cancels a portal's running message workflows when it disconnects.
type PortalStopper struct {
	Temporal  Workflows
	Namespace string
	TaskQueue string // the message workflows' (TEMPORAL_TASK_QUEUE); "": any
}

// StopPortal cancels every running workflow of the portal (found by SmsPortalId). A workflow that
// started after the listing still ends PORTAL_DISCONNECTED at its first HubSpot call or check.
func (s PortalStopper) StopPortal(ctx context.Context, portalID int64) (int, error) {
	ids, err := listRunning(ctx, s.Temporal, s.Namespace, s.TaskQueue, workflows.PortalIDKey.GetName()+" = "+quoted(strconv.FormatInt(portalID, 10)))
	n, cerr := cancel(ctx, s.Temporal, ids)
	return n, errors.Join(err, cerr)
}

// stopTimeout bounds the stop of a portal's workflows started by a disconnect.
const stopTimeout = 10 * time.Minute

// OnDisconnect is a store.Store.OnDisconnect hook: it stops the portal's running workflows in the
// background (the token refresh that found the portal revoked does not wait for it). Were the
// process to die meanwhile, the remaining messages still end PORTAL_DISCONNECTED when they wake.
func (s PortalStopper) OnDisconnect(log *slog.Logger) func(ctx context.Context, portalID int64) {
	return func(ctx context.Context, portalID int64) {
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
			defer cancel()
			n, err := s.StopPortal(ctx, portalID)
			if err != nil {
				log.Error("stopping a disconnected portal's messages failed", "portal_id", portalID, "cancelled", n, "error", err)
				return
			}
			log.Info("disconnected portal's messages stopped", "portal_id", portalID, "cancelled", n)
		}()
	}
}
