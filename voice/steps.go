package voice

// What a call does next, whatever the carrier: the webhooks answer a carrier with Steps, and its
// adapter renders them (TwiML, NCCO). Rounds number the offerings of the menu: 0 is the first, and
// a wrong key or silence offers it again while the round is below the script's Repeats.

// Kinds of Step.
const (
	StepSay    = "say"    // say or play Speech
	StepMenu   = "menu"   // say Speech while waiting for one key, for Round
	StepDial   = "dial"   // connect the call to TransferTo
	StepHangup = "hangup" // end the call
)

// MaxRepeats bounds Script.Repeats.
const MaxRepeats = 3

// Step is one thing the call does.
type Step struct {
	Kind       string
	Speech     Speech
	Round      int    // StepMenu: the offering, sent back with the key pressed
	Again      bool   // StepMenu: silence offers the menu again (round+1) rather than ending the call
	TransferTo string // StepDial
}

// repeats is Repeats within [0, MaxRepeats].
func (s Script) repeats() int { return min(max(s.Repeats, 0), MaxRepeats) }

// Answer is what the call does when answered, or when the menu is offered at round: the opening
// then hang up for a plain voice message, the menu for an interactive call.
func (s Script) Answer(round int) []Step {
	if !s.Interactive() {
		var steps []Step
		if !s.Opening.Empty() {
			steps = append(steps, Step{Kind: StepSay, Speech: s.Opening})
		}
		return append(steps, Step{Kind: StepHangup})
	}
	round = max(round, 0)
	if round > s.repeats() {
		return []Step{{Kind: StepHangup}}
	}
	return []Step{{Kind: StepMenu, Speech: s.Opening, Round: round, Again: round < s.repeats()}}
}

// Silence is what the call does when the menu of round got no key.
func (s Script) Silence(round int) []Step {
	if round < s.repeats() {
		return s.Answer(round + 1)
	}
	return []Step{{Kind: StepHangup}}
}

// Press is what the call does when key is pressed at the menu of round, and the action taken: the
// key's action, or ActionWrongKey (the wrong-key prompt, then the menu again while repeats are
// left, else hang up).
func (s Script) Press(round int, key string) ([]Step, string) {
	var steps []Step
	say := func(sp Speech) {
		if !sp.Empty() {
			steps = append(steps, Step{Kind: StepSay, Speech: sp})
		}
	}
	k, ok := s.Action(key)
	if !ok || key == "" {
		say(s.WrongKey)
		if round < s.repeats() {
			return append(steps, s.Answer(round+1)...), ActionWrongKey
		}
		return append(steps, Step{Kind: StepHangup}), ActionWrongKey
	}
	say(k.Speech)
	if k.Action == ActionTransfer && k.TransferTo != "" {
		return append(steps, Step{Kind: StepDial, TransferTo: k.TransferTo}), k.Action
	}
	return append(steps, Step{Kind: StepHangup}), k.Action
}
