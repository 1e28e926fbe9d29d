// Package phone parses recipients' phone numbers with libphonenumber's metadata
// (github.com/nyaruka/phonenumbers): E.164 form, number type and the number's time zones.
//
// It is pure: no I/O, no clock, so activities and the API can share it.
package phone

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Error codes, stable strings a HubSpot user reads in error_code.
const (
	CodeInvalid     = "INVALID_PHONE"
	CodeNotAMobile  = "NOT_A_MOBILE"
	unknownTimezone = phonenumbers.UNKNOWN_TIMEZONE
)

// Error is a phone number that cannot take an SMS. Code is one of the Code constants. The text
// never contains the number itself (personal data; errors end up in logs).
type Error struct {
	Code   string
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Code
	}
	return e.Code + ": " + e.Detail
}

// Is makes errors.Is(err, phone.ErrInvalid) match any *Error with the same code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrInvalid    = &Error{Code: CodeInvalid}
	ErrNotAMobile = &Error{Code: CodeNotAMobile}
)

// Type is the kind of line a number belongs to, as the numbering plan tells it.
type Type string

// Number types (libphonenumber's PhoneNumberType, as stable strings).
const (
	Mobile            Type = "mobile"
	FixedLine         Type = "fixed_line"
	FixedLineOrMobile Type = "fixed_line_or_mobile" // e.g. all of +1: the plan cannot tell
	TollFree          Type = "toll_free"
	PremiumRate       Type = "premium_rate"
	SharedCost        Type = "shared_cost"
	VoIP              Type = "voip"
	PersonalNumber    Type = "personal_number"
	Pager             Type = "pager"
	UAN               Type = "uan"
	Voicemail         Type = "voicemail"
	Unknown           Type = "unknown"
)

var types = map[phonenumbers.PhoneNumberType]Type{
	phonenumbers.FIXED_LINE:           FixedLine,
	phonenumbers.MOBILE:               Mobile,
	phonenumbers.FIXED_LINE_OR_MOBILE: FixedLineOrMobile,
	phonenumbers.TOLL_FREE:            TollFree,
	phonenumbers.PREMIUM_RATE:         PremiumRate,
	phonenumbers.SHARED_COST:          SharedCost,
	phonenumbers.VOIP:                 VoIP,
	phonenumbers.PERSONAL_NUMBER:      PersonalNumber,
	phonenumbers.PAGER:                Pager,
	phonenumbers.UAN:                  UAN,
	phonenumbers.VOICEMAIL:            Voicemail,
	phonenumbers.UNKNOWN:              Unknown,
}

// Number is a parsed, valid phone number.
type Number struct {
	E164 string // "+33612345678"
	// Region is the ISO 3166 alpha-2 region the numbering plan assigns the number to. It can
	// differ from the country given to Parse: "+44 7911 123456" is "GG" (Guernsey), a +1 number
	// can be "CA". Compliance rules follow the number's region.
	Region string
	Type   Type
	// Timezones are the IANA zones the number may be in, as libphonenumber maps its prefix
	// (several for e.g. US toll-free numbers); empty when unknown.
	Timezones []string
}

// Parse parses raw as a number of country (ISO 3166 alpha-2, the default region: a number without
// an international prefix gets the country's prefix). An unparsable or invalid number is
// ErrInvalid. A number whose type is certainly not able to take an SMS (a fixed line) is
// ErrNotAMobile; the parsed Number is returned with it, so callers can still show it.
// Types that cannot be told apart from a mobile (FixedLineOrMobile, all of +1) pass.
func Parse(raw, country string) (Number, error) {
	raw = strings.TrimSpace(raw)
	country = strings.ToUpper(strings.TrimSpace(country))
	if raw == "" {
		return Number{}, &Error{Code: CodeInvalid, Detail: "empty phone number"}
	}
	n, err := phonenumbers.Parse(raw, country)
	if err != nil {
		return Number{}, &Error{Code: CodeInvalid, Detail: "not a phone number (" + regionName(country) + ")"}
	}
	if !phonenumbers.IsValidNumber(n) {
		return Number{}, &Error{Code: CodeInvalid, Detail: "not a valid phone number (" + regionName(country) + ")"}
	}
	num := Number{
		E164:   phonenumbers.Format(n, phonenumbers.E164),
		Region: phonenumbers.GetRegionCodeForNumber(n),
		Type:   types[phonenumbers.GetNumberType(n)],
	}
	if num.Type == "" {
		num.Type = Unknown
	}
	if tzs, err := phonenumbers.GetTimezonesForNumber(n); err == nil {
		for _, tz := range tzs { // copy: the library hands out its own map's slice
			if tz != unknownTimezone {
				num.Timezones = append(num.Timezones, tz)
			}
		}
	}
	if notMobile[num.Type] {
		return num, &Error{Code: CodeNotAMobile, Detail: "a " + strings.ReplaceAll(string(num.Type), "_", " ") + " number cannot receive SMS"}
	}
	return num, nil
}

// notMobile lists the types that certainly cannot receive an SMS. Only fixed lines: toll-free
// (text-enabled in the US), VoIP and personal numbers often can, and FixedLineOrMobile is unknown.
var notMobile = map[Type]bool{FixedLine: true}

func regionName(country string) string {
	if country == "" {
		return "no country given: an international prefix is needed"
	}
	return "country " + country
}

// Hash is the keyed form of a number that may be stored or shown where the number may not: the
// SmsPhoneHash search attribute, and a suppression kept after the number's messages are gone.
// HMAC-SHA256 keyed with the deployment's PHONE_HASH_KEY, first 16 hex digits: a plain hash of a
// phone number is reversed by trying every number.
func Hash(key []byte, e164 string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(e164))
	return hex.EncodeToString(m.Sum(nil))[:16]
}
