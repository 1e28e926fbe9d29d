package phone

import (
	"errors"
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		raw, country string
		e164, region string
		typ          Type
		tzs          []string
	}{
		{"06 12 34 56 78", "FR", "+33612345678", "FR", Mobile, []string{"Europe/Paris"}},
		{"33612345678", "fr", "+33612345678", "FR", Mobile, []string{"Europe/Paris"}},   // prefix without +
		{"0033612345678", "FR", "+33612345678", "FR", Mobile, []string{"Europe/Paris"}}, // international access code
		{"+33 6 12 34 56 78", "", "+33612345678", "FR", Mobile, []string{"Europe/Paris"}},
		{"(212) 555-0100", "US", "+12125550100", "US", FixedLineOrMobile, []string{"America/New_York"}},
		{"+1 808 555 0100", "US", "+18085550100", "US", FixedLineOrMobile, []string{"Pacific/Honolulu"}},
		{"300 1234567", "CO", "+573001234567", "CO", Mobile, []string{"America/Bogota"}},
		{"085 123 4567", "IE", "+353851234567", "IE", Mobile, []string{"Europe/Guernsey", "Europe/Isle_of_Man", "Europe/London"}},
		{"+44 7911 123456", "GB", "+447911123456", "GG", Mobile, []string{"Europe/Guernsey", "Europe/Isle_of_Man", "Europe/London"}},
		{"612 345 678", "ES", "+34612345678", "ES", Mobile, []string{"Europe/Madrid"}},
		// a number of another country than the one given keeps its own region
		{"+1 647 555 0100", "FR", "+16475550100", "CA", FixedLineOrMobile, []string{"America/Toronto"}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.raw, tt.country)
		if err != nil {
			t.Errorf("Parse(%q, %q): %v", tt.raw, tt.country, err)
			continue
		}
		if got.E164 != tt.e164 || got.Region != tt.region || got.Type != tt.typ || !slices.Equal(got.Timezones, tt.tzs) {
			t.Errorf("Parse(%q, %q) = %+v, want %s %s %s %v", tt.raw, tt.country, got, tt.e164, tt.region, tt.typ, tt.tzs)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		raw, country string
		want         error
		code         string
	}{
		{"", "FR", ErrInvalid, "INVALID_PHONE"},
		{"abc", "FR", ErrInvalid, "INVALID_PHONE"},
		{"0612", "FR", ErrInvalid, "INVALID_PHONE"},
		{"07700 900123", "GB", ErrInvalid, "INVALID_PHONE"}, // Ofcom drama range: not a valid number
		{"0612345678", "", ErrInvalid, "INVALID_PHONE"},     // national form and no country
		{"01 42 68 53 00", "FR", ErrNotAMobile, "NOT_A_MOBILE"},
		{"601 2345678", "CO", ErrNotAMobile, "NOT_A_MOBILE"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.raw, tt.country)
		var pe *Error
		if !errors.Is(err, tt.want) || !errors.As(err, &pe) || pe.Code != tt.code {
			t.Errorf("Parse(%q, %q) error = %v, want %s", tt.raw, tt.country, err, tt.code)
		}
		if errors.Is(err, tt.want) && tt.want == ErrInvalid && errors.Is(err, ErrNotAMobile) {
			t.Errorf("Parse(%q): invalid must not match NOT_A_MOBILE", tt.raw)
		}
	}
}

func TestNotAMobileStillReturnsNumber(t *testing.T) {
	n, err := Parse("01 42 68 53 00", "FR")
	if !errors.Is(err, ErrNotAMobile) {
		t.Fatalf("err = %v, want NOT_A_MOBILE", err)
	}
	if n.E164 != "+33142685300" || n.Type != FixedLine {
		t.Errorf("number = %+v, want +33142685300 fixed_line", n)
	}
	if got := err.Error(); got != "NOT_A_MOBILE: a fixed line number cannot receive SMS" {
		t.Errorf("message = %q", got)
	}
}

func TestTimezonesAreACopy(t *testing.T) {
	a, _ := Parse("+1 808 555 0100", "")
	a.Timezones[0] = "Mutated/Zone"
	b, _ := Parse("+1 808 555 0100", "")
	if b.Timezones[0] != "Pacific/Honolulu" {
		t.Errorf("library data mutated: %v", b.Timezones)
	}
}
