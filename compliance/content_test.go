package compliance

import (
	"reflect"
	"testing"
)

func TestCheck(t *testing.T) {
	own := CheckOptions{Category: Marketing, ShortDomains: []string{"sms.example.com"}}
	tests := []struct {
		name, country, text string
		opts                CheckOptions
		want                []Violation
	}{
		{"US bit.ly", "US", "Sale! https://bit.ly/3xYz", own,
			[]Violation{{"PUBLIC_URL_SHORTENER", Block, "bit.ly"}}},
		{"US several, deduplicated, in order", "US", "See tinyurl.com/a and BIT.LY/b and bit.ly/c, www.t.co/x", own,
			[]Violation{{"PUBLIC_URL_SHORTENER", Block, "tinyurl.com"}, {"PUBLIC_URL_SHORTENER", Block, "bit.ly"}, {"PUBLIC_URL_SHORTENER", Block, "t.co"}}},
		{"US own short domain", "US", "Your offer: https://sms.example.com/Ab12", own, nil},
		{"US custom domain on a shortener service", "US", "Go to https://go.brand.com/x", own, nil},
		{"US look-alike domain is not a shortener", "US", "Visit art.co and notbit.ly.example.org", own, nil},
		{"US subdomain of a shortener", "US", "https://m.bit.ly/x", own,
			[]Violation{{"PUBLIC_URL_SHORTENER", Block, "bit.ly"}}},
		{"FR: shorteners allowed", "FR", "https://bit.ly/3xYz", own, nil},
		{"US transactional: no content rules", "US", "https://bit.ly/x casino", CheckOptions{Category: Transactional}, nil},
		{"US empty category counts as marketing", "US", "https://bit.ly/x", CheckOptions{},
			[]Violation{{"PUBLIC_URL_SHORTENER", Block, "bit.ly"}}},
		{"US crypto and loans", "US", "Get Bitcoin now! Student loans forgiven.", own,
			[]Violation{{"PROHIBITED_CONTENT", Warn, "loans: loans"}, {"PROHIBITED_CONTENT", Warn, "cryptocurrency: bitcoin"}}},
		{"US prefix keyword", "US", "Best CASINOS in town", own,
			[]Violation{{"PROHIBITED_CONTENT", Warn, "gambling: casino"}}},
		{"whole words only", "US", "Our abetted gunther was beta", own, nil},
		{"ES accents folded", "ES", "¡Apuestas deportivas y elección!", own,
			[]Violation{{"PROHIBITED_CONTENT", Warn, "politics: eleccion"}, {"PROHIBITED_CONTENT", Warn, "gambling: apuesta"}}},
		{"FR multi-word keyword", "FR", "Les paris sportifs reviennent à Paris", own,
			[]Violation{{"PROHIBITED_CONTENT", Warn, "gambling: paris sportifs"}}},
		{"FR the city is fine", "FR", "Soldes à Paris ce weekend", own, nil},
		{"GB gambling needs age verification", "GB", "Free bets this weekend", own,
			[]Violation{{"AGE_VERIFICATION_REQUIRED", Warn, "gambling: bets"}}},
		{"GG follows GB", "GG", "Come to church", own,
			[]Violation{{"PROHIBITED_CONTENT", Warn, "religion: church"}}},
		{"IE politics", "IE", "Vote for us", own,
			[]Violation{{"PROHIBITED_CONTENT", Warn, "politics: vote"}}},
		{"no rule", "JP", "casino https://bit.ly/x", own, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(tt.text, tt.country, tt.opts)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Check(%q, %s) =\n %v\nwant\n %v", tt.text, tt.country, got, tt.want)
			}
		})
	}
}

func TestCheckConfigurableAction(t *testing.T) {
	tbl := DefaultTable()
	es := tbl.Rules["ES"]
	es.Content[2].Action = Block // gambling
	es.Content[2].Keywords = append(es.Content[2].Keywords, "tragaperras")
	tbl.Rules["ES"] = es
	got := tbl.Check("Nuevas tragaperras", "ES", CheckOptions{Category: Marketing})
	want := []Violation{{"PROHIBITED_CONTENT", Block, "gambling: tragaperras"}}
	if !reflect.DeepEqual(got, want) || !Blocked(got) {
		t.Errorf("got %v, want %v", got, want)
	}
	if vs := Check("Nuevas tragaperras", "ES", CheckOptions{}); len(vs) != 0 {
		t.Errorf("default table changed: %v", vs)
	}
	if Blocked([]Violation{{"PROHIBITED_CONTENT", Warn, "x"}}) {
		t.Error("a warning blocks")
	}
}

func TestStopMention(t *testing.T) {
	for _, tt := range []struct {
		country string
		cfg     Config
		want    string
	}{
		{"FR", Config{}, "STOP au 36180"},
		{"fr", Config{StopCode: "36111"}, "STOP au 36111"},
		{"US", Config{}, "Reply STOP to opt out"},
		{"ES", Config{}, "Baja: responde BAJA"},
		{"JP", Config{}, "STOP to opt out"},
	} {
		if got := StopMention(tt.country, tt.cfg); got != tt.want {
			t.Errorf("StopMention(%s) = %q, want %q", tt.country, got, tt.want)
		}
	}
}

func TestApplyStop(t *testing.T) {
	cfg := Config{StopCode: "36200"}
	for _, tt := range []struct {
		name, text, country string
		c                   Category
		add                 bool
		want, mention       string
	}{
		{"FR marketing forced", "Promo -20%", "FR", Marketing, false, "Promo -20%\nSTOP au 36200", "STOP au 36200"},
		{"FR marketing asked", "Promo -20%", "FR", Marketing, true, "Promo -20%\nSTOP au 36200", "STOP au 36200"},
		{"FR transactional not forced", "Code: 1234", "FR", Transactional, false, "Code: 1234", ""},
		{"FR transactional asked", "Code: 1234", "FR", Transactional, true, "Code: 1234\nSTOP au 36200", "STOP au 36200"},
		{"FR already there, other code", "Promo stop AU 36180.", "FR", Marketing, false, "Promo stop AU 36180.", ""},
		{"FR mention not at the end", "STOP au 36180 Promo", "FR", Marketing, false, "STOP au 36180 Promo\nSTOP au 36200", "STOP au 36200"},
		{"trailing space: no extra separator", "Promo ", "FR", Marketing, false, "Promo STOP au 36200", "STOP au 36200"},
		{"US not forced", "Sale", "US", Marketing, false, "Sale", ""},
		{"US asked", "Sale", "US", Marketing, true, "Sale\nReply STOP to opt out", "Reply STOP to opt out"},
		{"US already there", "Sale. Reply stop to opt out", "US", Marketing, true, "Sale. Reply stop to opt out", ""},
	} {
		got, mention := ApplyStop(tt.text, tt.country, tt.c, tt.add, cfg)
		if got != tt.want || mention != tt.mention {
			t.Errorf("%s: ApplyStop = %q, %q; want %q, %q", tt.name, got, mention, tt.want, tt.mention)
		}
	}
}

func TestConsentRequired(t *testing.T) {
	for _, tt := range []struct {
		country string
		c       Category
		want    bool
	}{
		{"IE", Marketing, true},
		{"ie", Marketing, true},
		{"IE", Transactional, false},
		{"FR", Marketing, false},
		{"JP", Marketing, false},
	} {
		if got := ConsentRequired(tt.country, tt.c); got != tt.want {
			t.Errorf("ConsentRequired(%s, %s) = %v", tt.country, tt.c, got)
		}
	}
}
