package hubspotsync_test

import (
	"maps"
	"testing"
	"time"

	"smsflow/hubspotsync"
	"smsflow/outcome"
	"smsflow/store"
)

// The rules of what a record's properties say, change by change.
func TestNextRecordState(t *testing.T) {
	t0 := time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)
	older, newer := "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
	yes, no := true, false
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	// state: newer is the record's latest message (sent at t0+1h), last seen DELIVERED.
	state := func(status string) store.RecordState {
		return store.RecordState{LastMessageID: newer, LastMessageAt: at(time.Hour), LastStatus: status, LastStatusAt: at(time.Hour)}
	}
	cases := []struct {
		name      string
		cur       store.RecordState
		change    hubspotsync.Change
		messageAt time.Time
		status    string // the record's last status after
		moved     hubspotsync.PropertiesItem
		optedOut  *bool
		invalid   *bool
	}{
		{name: "a first message", change: hubspotsync.Change{MessageID: older, Status: outcome.SMSSent}, messageAt: t0,
			status: "SMS_SENT", moved: hubspotsync.PropertiesItem{Last: true}},
		{name: "the latest message moves on", cur: state("SMS_SENT"), change: hubspotsync.Change{MessageID: newer, Status: outcome.SMSClicked},
			messageAt: t0.Add(time.Hour), status: "SMS_CLICKED", moved: hubspotsync.PropertiesItem{Last: true}},
		{name: "an older message's click writes nothing", cur: state("SMS_DELIVERED"),
			change: hubspotsync.Change{MessageID: older, Status: outcome.SMSClicked}, messageAt: t0, status: "SMS_DELIVERED"},
		{name: "an older message's opt-out sets only the flag", cur: state("SMS_DELIVERED"),
			change: hubspotsync.Change{MessageID: older, Status: outcome.SMSUnsubscribed, OptedOut: true}, messageAt: t0,
			status: "SMS_DELIVERED", moved: hubspotsync.PropertiesItem{OptedOut: true}, optedOut: &yes},
		{name: "a newer message takes over", cur: state("SMS_UNSUBSCRIBED"),
			change: hubspotsync.Change{MessageID: "00000000-0000-0000-0000-00000000000c", Status: outcome.SMSNotSent}, messageAt: t0.Add(2 * time.Hour),
			status: "SMS_NOT_SENT", moved: hubspotsync.PropertiesItem{Last: true}},
		{name: "a click after the unsubscribe keeps UNSUBSCRIBED", cur: state("SMS_UNSUBSCRIBED"),
			change: hubspotsync.Change{MessageID: newer, Status: outcome.SMSClicked}, messageAt: t0.Add(time.Hour), status: "SMS_UNSUBSCRIBED"},
		{name: "a START reply after the unsubscribe opts in and keeps UNSUBSCRIBED", cur: state("SMS_UNSUBSCRIBED"),
			change: hubspotsync.Change{MessageID: newer, Status: outcome.SMSResponse, OptedIn: true}, messageAt: t0.Add(time.Hour),
			status: "SMS_UNSUBSCRIBED", moved: hubspotsync.PropertiesItem{OptedOut: true}, optedOut: &no},
		{name: "a number not assigned", cur: state("SMS_SENT"),
			change: hubspotsync.Change{MessageID: newer, Status: outcome.SMSNotDelivered, NumberInvalid: true}, messageAt: t0.Add(time.Hour),
			status: "SMS_NOT_DELIVERED", moved: hubspotsync.PropertiesItem{Last: true, NumberInvalid: true}, invalid: &yes},
		{name: "the latest message delivered sets number invalid back", cur: store.RecordState{LastMessageID: older, LastMessageAt: &t0, LastStatus: "SMS_NOT_DELIVERED", NumberInvalid: &yes},
			change: hubspotsync.Change{MessageID: newer, Status: outcome.SMSDelivered}, messageAt: t0.Add(time.Hour),
			status: "SMS_DELIVERED", moved: hubspotsync.PropertiesItem{Last: true, NumberInvalid: true}, invalid: &no},
		{name: "an older message delivered leaves number invalid", cur: store.RecordState{LastMessageID: newer, LastMessageAt: at(time.Hour), LastStatus: "SMS_NOT_DELIVERED", NumberInvalid: &yes},
			change: hubspotsync.Change{MessageID: older, Status: outcome.SMSDelivered}, messageAt: t0, status: "SMS_NOT_DELIVERED", invalid: &yes},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next, moved := hubspotsync.NextRecordState(c.cur, c.change, c.messageAt)
			if next.LastStatus != c.status || moved != c.moved {
				t.Errorf("last status %q, moved %+v; want %q, %+v", next.LastStatus, moved, c.status, c.moved)
			}
			if !sameFlag(next.OptedOut, c.optedOut) || !sameFlag(next.NumberInvalid, c.invalid) {
				t.Errorf("opted out %v, number invalid %v; want %v, %v", ptr(next.OptedOut), ptr(next.NumberInvalid), ptr(c.optedOut), ptr(c.invalid))
			}
		})
	}
}

func sameFlag(a, b *bool) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func ptr(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

// Only the moved properties are written, with the state's values.
func TestProperties(t *testing.T) {
	sent := time.Date(2026, 3, 16, 9, 0, 5, 0, time.UTC)
	no := false
	v := store.RecordView{RecordState: store.RecordState{LastMessageID: "m1", LastStatus: "SMS_SENT", LastStatusAt: &sent, OptedOut: &no},
		Phone: "+33612345600", Text: "Hello"}
	got := hubspotsync.Properties(v, hubspotsync.PropertiesItem{Last: true, OptedOut: true, NumberInvalid: true})
	want := map[string]string{hubspotsync.PropLastMessageID: "m1", hubspotsync.PropLastStatus: "SMS_SENT",
		hubspotsync.PropLastMessageDate: "2026-03-16T09:00:05Z", hubspotsync.PropLastDestination: "+33612345600",
		hubspotsync.PropLastContent: "Hello", hubspotsync.PropOptedOut: "false"} // number invalid: never set, not written
	if !maps.Equal(got, want) {
		t.Errorf("properties = %v, want %v", got, want)
	}
	if got := hubspotsync.Properties(v, hubspotsync.PropertiesItem{OptedOut: true}); len(got) != 1 || got[hubspotsync.PropOptedOut] != "false" {
		t.Errorf("opted out only = %v", got)
	}
}
