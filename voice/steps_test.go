package voice

import (
	"reflect"
	"testing"
)

func TestSteps(t *testing.T) {
	hello := Speech{Text: "Press 1 or 2", Language: "en-US"}
	wrong := Speech{Text: "Unknown key"}
	bye := Speech{Text: "Bye"}
	sc := Script{CallID: "c", Opening: hello, WrongKey: wrong, Repeats: 1, Keys: []KeyAction{
		{Key: "1", Action: ActionTransfer, Speech: Speech{Text: "Connecting"}, TransferTo: "+33612345601"},
		{Key: "2", Action: ActionSMS, Speech: bye},
		{Key: "9", Action: ActionUnsubscribe},
	}}
	plain := Script{CallID: "p", Opening: hello}
	for _, tc := range []struct {
		name   string
		got    []Step
		want   []Step
		action string
		want2  string
	}{
		{name: "plain message", got: plain.Answer(0), want: []Step{{Kind: StepSay, Speech: hello}, {Kind: StepHangup}}},
		{name: "menu", got: sc.Answer(0), want: []Step{{Kind: StepMenu, Speech: hello, Round: 0, Again: true}}},
		{name: "last menu", got: sc.Answer(1), want: []Step{{Kind: StepMenu, Speech: hello, Round: 1}}},
		{name: "past the repeats", got: sc.Answer(2), want: []Step{{Kind: StepHangup}}},
		{name: "silence", got: sc.Silence(0), want: []Step{{Kind: StepMenu, Speech: hello, Round: 1}}},
		{name: "silence at last", got: sc.Silence(1), want: []Step{{Kind: StepHangup}}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
	for _, tc := range []struct {
		round  int
		key    string
		want   []Step
		action string
	}{
		{0, "1", []Step{{Kind: StepSay, Speech: Speech{Text: "Connecting"}}, {Kind: StepDial, TransferTo: "+33612345601"}}, ActionTransfer},
		{0, "2", []Step{{Kind: StepSay, Speech: bye}, {Kind: StepHangup}}, ActionSMS},
		{0, "9", []Step{{Kind: StepHangup}}, ActionUnsubscribe},
		{0, "5", []Step{{Kind: StepSay, Speech: wrong}, {Kind: StepMenu, Speech: hello, Round: 1}}, ActionWrongKey},
		{1, "5", []Step{{Kind: StepSay, Speech: wrong}, {Kind: StepHangup}}, ActionWrongKey},
	} {
		got, action := sc.Press(tc.round, tc.key)
		if !reflect.DeepEqual(got, tc.want) || action != tc.action {
			t.Errorf("round %d key %q: %+v %s, want %+v %s", tc.round, tc.key, got, action, tc.want, tc.action)
		}
	}
}
