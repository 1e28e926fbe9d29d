package render_test

import (
	"errors"
	"strings"
	"testing"

	"smsflow/compliance"
	"smsflow/encoding"
	"smsflow/render"
)

func TestComposeAddsMentionEncodesAndChecksTheSentText(t *testing.T) {
	rules := compliance.DefaultTable()
	cfg := compliance.Config{StopCode: "36180", ShortDomains: []string{"sms.example.com"}}
	c := render.Compose(rules, "Soldes -50% ce week-end: https://bit.ly/x", render.ComposeOptions{
		Country: "FR", Category: compliance.Marketing, MaxSegments: 5, Compliance: cfg})
	if c.EncodeErr != nil {
		t.Fatal(c.EncodeErr)
	}
	if c.Mention == "" || !strings.HasSuffix(c.Message.Text, c.Mention) || !strings.Contains(c.Mention, "36180") {
		t.Fatalf("mention %q, text %q: want the French STOP mention appended", c.Mention, c.Message.Text)
	}
	if len(c.Violations) != 0 {
		t.Fatalf("violations %+v: France allows public shorteners", c.Violations)
	}
	us := render.Compose(rules, "Sale! https://bit.ly/x", render.ComposeOptions{Country: "US", Category: compliance.Marketing, MaxSegments: 5, Compliance: cfg})
	if len(us.Violations) != 1 || us.Violations[0].Code != compliance.CodePublicShortener || us.Violations[0].Action != compliance.Block {
		t.Fatalf("US violations %+v: want the public shortener blocked", us.Violations)
	}

	// Transactional: no mention, same text.
	tx := render.Compose(rules, "Votre code: 1234", render.ComposeOptions{Country: "FR", Category: compliance.Transactional, MaxSegments: 5, Compliance: cfg})
	if tx.Mention != "" || tx.Message.Text != "Votre code: 1234" {
		t.Fatalf("transactional composed to %q (mention %q)", tx.Message.Text, tx.Mention)
	}
}

func TestComposeReportsWhyTheTextCannotBeEncoded(t *testing.T) {
	c := render.Compose(compliance.DefaultTable(), strings.Repeat("a", 161*3), render.ComposeOptions{
		Country: "US", Category: compliance.Transactional, MaxSegments: 1})
	var ee *encoding.Error
	if !errors.As(c.EncodeErr, &ee) || ee.Code != encoding.CodeMessageTooLong {
		t.Fatalf("encode error = %v, want MESSAGE_TOO_LONG", c.EncodeErr)
	}
}
