package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"smsflow/phone"
	"smsflow/store"
	"smsflow/workflows"
)

// Eraser erases a number's data, or a deleted record's, on request.
type Eraser struct {
	Store     *store.Store
	Temporal  Workflows
	Namespace string
	TaskQueue string // the message workflows' (TEMPORAL_TASK_QUEUE); "": any
	// PhoneHashKey is PHONE_HASH_KEY: the SmsPhoneHash of a number, and its suppressions' hash.
	PhoneHashKey []byte
	Log          *slog.Logger
}

// Erased is what an erasure did.
type Erased struct {
	Messages           int `json:"messages"`
	WorkflowsCancelled int `json:"workflows_cancelled"`
	HashedSuppressions int `json:"hashed_suppressions"`
}

func (r *Erased) add(o Erased) {
	r.Messages += o.Messages
	r.WorkflowsCancelled += o.WorkflowsCancelled
	r.HashedSuppressions += o.HashedSuppressions
}

// EraseNumber erases one number (E.164) of a portal: its running message workflows are found (by
// the SmsPhoneHash search attribute, and by the message log), its rows are deleted and its
// suppressions kept as a hash, then the workflows are cancelled; they store nothing again (Publish
// drops the writes of an erased message) and end NOT_SENT ERASED when the message had not left.
func (e *Eraser) EraseNumber(ctx context.Context, portalID int64, e164 string) (Erased, error) {
	if len(e.PhoneHashKey) == 0 {
		return Erased{}, store.ErrNoPhoneHashKey
	}
	query := fmt.Sprintf("%s = %s AND %s = %s", workflows.PortalIDKey.GetName(), quoted(strconv.FormatInt(portalID, 10)),
		workflows.PhoneHashKey.GetName(), quoted(phone.Hash(e.PhoneHashKey, e164)))
	return e.erase(ctx, store.Erasure{PortalID: portalID, Phone: e164}, query)
}

// EraseRecord erases what the portal's messages to a deleted record hold (HubSpot's
// contact.privacyDeletion): every number they went to, and its messages that had none yet.
func (e *Eraser) EraseRecord(ctx context.Context, portalID int64, objectType, objectID string) (Erased, error) {
	phones, unresolved, err := e.Store.RecordNumbers(ctx, portalID, objectType, objectID)
	if err != nil {
		return Erased{}, err
	}
	var total Erased
	for _, p := range phones {
		r, err := e.EraseNumber(ctx, portalID, p)
		total.add(r)
		if err != nil {
			return total, err
		}
	}
	query := fmt.Sprintf("%s = %s AND %s = %s", workflows.PortalIDKey.GetName(), quoted(strconv.FormatInt(portalID, 10)),
		workflows.RecordIDKey.GetName(), quoted(objectType+":"+objectID))
	r, err := e.erase(ctx, store.Erasure{PortalID: portalID, MessageIDs: unresolved}, query)
	total.add(r)
	return total, err
}

// erase deletes the erasure's rows, with the messages of the running workflows query finds, and
// cancels those workflows and the erased messages' own.
func (e *Eraser) erase(ctx context.Context, er store.Erasure, query string) (Erased, error) {
	running, err := listRunning(ctx, e.Temporal, e.Namespace, e.TaskQueue, query)
	if err != nil {
		return Erased{}, err
	}
	for _, id := range running {
		if m := messageIDOf(id); m != "" {
			er.MessageIDs = append(er.MessageIDs, m)
		}
	}
	done, err := e.Store.Erase(ctx, er)
	if err != nil {
		return Erased{}, err
	}
	ids := append(running, done.WorkflowIDs...)
	for _, m := range done.MessageIDs {
		ids = append(ids, workflows.SMSWorkflowID(m))
	}
	n, cerr := cancel(ctx, e.Temporal, ids)
	out := Erased{Messages: len(done.MessageIDs), WorkflowsCancelled: n, HashedSuppressions: done.HashedSuppressions}
	if e.Log != nil {
		e.Log.Info("erasure", "portal_id", er.PortalID, "messages", out.Messages, "workflows_cancelled", n,
			"hashed_suppressions", out.HashedSuppressions)
	}
	if cerr != nil {
		return out, errors.Join(errors.New("retention: erased, but some workflows were not cancelled"), cerr)
	}
	return out, nil
}
