package workflows

import (
	"go.temporal.io/sdk/temporal"
)

// Search attributes the message workflow upserts so operators can find any message in the Web UI.
// Values are never personal data: the phone is hashed, the text is absent.
var (
	PortalIDKey  = temporal.NewSearchAttributeKeyKeyword("SmsPortalId")
	RecordIDKey  = temporal.NewSearchAttributeKeyKeyword("SmsRecordId")
	ChannelKey   = temporal.NewSearchAttributeKeyKeyword("SmsChannel")
	CountryKey   = temporal.NewSearchAttributeKeyKeyword("SmsCountry")
	CampaignKey  = temporal.NewSearchAttributeKeyKeyword("SmsCampaign")
	StatusKey    = temporal.NewSearchAttributeKeyKeyword("SmsStatus")
	PhoneHashKey = temporal.NewSearchAttributeKeyKeyword("SmsPhoneHash")
	WakeAtKey    = temporal.NewSearchAttributeKeyTime("SmsWakeAt")
)

// SearchAttributes maps every custom attribute the workflows use to its Temporal type name, as
// `temporal server start-dev --search-attribute` and `temporal operator search-attribute create` take it.
func SearchAttributes() map[string]string {
	out := map[string]string{}
	for _, k := range []temporal.SearchAttributeKey{PortalIDKey, RecordIDKey, ChannelKey, CountryKey, CampaignKey, StatusKey, PhoneHashKey, WakeAtKey} {
		out[k.GetName()] = k.GetValueType().String() // "Keyword", "Datetime": the CLI's spelling
	}
	return out
}
