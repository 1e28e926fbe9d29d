package activities

import (
	"context"
	"errors"
	"fmt"
	"smsflow/hubspot"
	"smsflow/outcome"
	"smsflow/phone"
	"strings"
)

// RecipientInput names the record whose phone the message goes to.
type RecipientInput struct {
	PortalID      int64  `json:"PortalID"`
	ObjectType    string `json:"ObjectType"` // contact, company, deal, ticket, …
	ObjectID      string `json:"ObjectID"`
	PhoneProperty string `json:"PhoneProperty"` // empty: mobilephone, then phone
	Country       string `json:"Country"`
	Channel       string `json:"Channel"`
	MessageType   string `json:"MessageType"`
	// Known are record properties HubSpot sent with the action; Tokens the ones the text uses.
	// When Known holds the phone and every token, the record is not read again.
	Known  map[string]string `json:"Known"`
	Tokens []string          `json:"Tokens"`
}

// Recipient is the resolved recipient.
type Recipient struct {
	Phone      string   `json:"Phone"`     // E.164
	PhoneHash  string   `json:"PhoneHash"` // for the search attribute; never the number itself
	Region     string   `json:"Region"`    // the number's region (compliance follows it)
	Timezones  []string `json:"Timezones"`
	ObjectType string   `json:"ObjectType"` // the record the phone came from (a deal's contact, say)
	ObjectID   string   `json:"ObjectID"`
	// Tokens are the values personalization tokens may use, by lowercase property name.
	Tokens       map[string]string `json:"Tokens"`
	ErrorCode    outcome.Code      `json:"ErrorCode"`
	ErrorMessage string            `json:"ErrorMessage"`
}

// knowsAll says whether the action's payload already holds a phone and every token property, so
// the record need not be read: the phone properties must have a value, the tokens only be present.
func knowsAll(known map[string]string, phones, tokens []string) bool {
	hasPhone := false
	for _, p := range phones {
		if strings.TrimSpace(known[p]) != "" {
			hasPhone = true
			break
		}
	}
	if !hasPhone {
		return false
	}
	for _, t := range tokens {
		if _, ok := known[t]; !ok {
			return false
		}
	}
	return true
}

// resolveRecipient finds the phone of the record (a deal's: its associated contact's, then
// company's), normalises it for the country and checks the suppression list.
func (a *Activities) resolveRecipient(ctx context.Context, in RecipientInput) (Recipient, error) {
	props := phoneProperties(in.PhoneProperty)
	names := append(append([]string{}, props...), in.Tokens...)
	var candidates []struct{ typ, id string }
	if strings.EqualFold(in.ObjectType, "deal") || strings.EqualFold(in.ObjectType, "0-3") {
		for _, to := range []struct{ plural, singular string }{{"contacts", "contact"}, {"companies", "company"}} {
			ids, err := a.HubSpot.AssociatedIDs(ctx, in.PortalID, "deals", in.ObjectID, to.plural)
			if err != nil {
				return hubspotOutcome(err)
			}
			for _, id := range ids {
				candidates = append(candidates, struct{ typ, id string }{to.singular, id})
			}
		}
	} else {
		candidates = append(candidates, struct{ typ, id string }{in.ObjectType, in.ObjectID})
	}
	var raw string
	var from struct{ typ, id string }
	var values map[string]string
	for _, c := range candidates {
		own := c.typ == in.ObjectType && c.id == in.ObjectID // the payload's properties are the enrolled record's
		v, known := in.Known, own && knowsAll(in.Known, props, in.Tokens)
		if !known {
			var err error
			if v, err = a.HubSpot.ReadProperties(ctx, in.PortalID, c.typ, c.id, names); err != nil {
				return hubspotOutcome(err)
			}
		}
		for _, p := range props {
			if strings.TrimSpace(v[p]) != "" {
				raw, from, values = v[p], c, v
				break
			}
		}
		if raw != "" {
			break
		}
	}
	if raw == "" {
		what := "the record"
		if len(candidates) != 1 || candidates[0].typ != in.ObjectType {
			what = "the deal's associated contacts and companies"
		}
		return Recipient{ErrorCode: outcome.NoPhone, ErrorMessage: fmt.Sprintf("no phone number in %s (%s)", what, strings.Join(props, ", "))}, nil
	}
	num, err := phone.Parse(raw, in.Country)
	if err != nil {
		var pe *phone.Error
		if errors.As(err, &pe) {
			return Recipient{ErrorCode: outcome.Code(pe.Code), ErrorMessage: pe.Error()}, nil
		}
		return Recipient{}, err
	}
	r := Recipient{Phone: num.E164, PhoneHash: PhoneHash(a.Config.PhoneHashKey, num.E164), Region: num.Region, Timezones: num.Timezones,
		ObjectType: from.typ, ObjectID: from.id, Tokens: map[string]string{}}
	for _, k := range in.Tokens {
		r.Tokens[k] = strings.TrimSpace(values[k])
	}
	if off, reason, err := a.Store.Suppressed(ctx, in.PortalID, channelOr(in.Channel), num.E164); err != nil {
		return Recipient{}, err
	} else if off {
		r.ErrorCode, r.ErrorMessage = outcome.OptedOut, "the recipient opted out ("+reason+")"
	}
	return r, nil
}

func phoneProperties(chosen string) []string {
	if chosen = strings.TrimSpace(chosen); chosen != "" {
		return []string{chosen}
	}
	return []string{"mobilephone", "phone"}
}

func channelOr(c string) string {
	if c == "" {
		return string(outcome.SMS)
	}
	return c
}

// PhoneHash is the search-attribute form of a number: a keyed hash (HMAC-SHA256, first 16 hex
// digits), since search attributes are stored in clear and a plain hash of a phone number is
// reversed by trying every number. Operators compute it with `bin/phonehash +33612345678`.
func PhoneHash(key []byte, e164 string) string { return phone.Hash(key, e164) }

// hubspotOutcome turns a disconnected portal into a NOT_SENT outcome; other errors are retried.
func hubspotOutcome(err error) (Recipient, error) {
	if errors.Is(err, hubspot.ErrPortalDisconnected) {
		return Recipient{ErrorCode: outcome.PortalDisconnected, ErrorMessage: outcome.PortalDisconnectedMessage}, nil
	}
	return Recipient{}, err
}
