package render

import (
	"reflect"
	"testing"
)

func TestPersonalize(t *testing.T) {
	values := map[string]string{"firstname": "Ana", "lastname": "", "company": "Acme"}
	for _, tc := range []struct{ in, want string }{
		{"Hi {{contact.firstname}}, welcome!", "Hi Ana, welcome!"},
		{"Hi {{ contact.FirstName }} {{contact.lastname}}, welcome!", "Hi Ana, welcome!"},
		{"Bonjour $prenom $nom, votre code", "Bonjour Ana, votre code"},
		{"Hello {{contact.lastname}} !", "Hello!"},
		{"{{contact.lastname}} Dear customer", "Dear customer"},
		{"Price $5 for $prenom", "Price $5 for Ana"},
		{"Line {{contact.lastname}}\n second", "Line\nsecond"},
		{"{{company.company}} rocks", "Acme rocks"},
	} {
		if got := Personalize(tc.in, values); got != tc.want {
			t.Errorf("Personalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLinks(t *testing.T) {
	text := "See https://shop.example.com/a?x=1, and http://b.example.org/p. Again https://shop.example.com/a?x=1"
	want := []string{"https://shop.example.com/a?x=1", "http://b.example.org/p"}
	if got := Links(text); !reflect.DeepEqual(got, want) {
		t.Fatalf("Links = %v, want %v", got, want)
	}
	got := ReplaceLinks(text, map[string]string{want[0]: "https://s.io/l/A", want[1]: "https://s.io/l/B"})
	if got != "See https://s.io/l/A, and https://s.io/l/B. Again https://s.io/l/A" {
		t.Fatalf("ReplaceLinks = %q", got)
	}
}

func TestWithUTM(t *testing.T) {
	got := WithUTM("https://shop.example.com/a?utm_source=keep&x=1", map[string]string{"utm_source": "sms", "utm_campaign": "black friday", "utm_term": ""})
	if got != "https://shop.example.com/a?utm_campaign=black+friday&utm_source=keep&x=1" {
		t.Fatalf("WithUTM = %q", got)
	}
	if WithUTM("https://a.example", nil) != "https://a.example" {
		t.Fatal("no UTM must leave the link as is")
	}
}

func TestPropertyNames(t *testing.T) {
	got := PropertyNames("Hi {{contact.FirstName}} $nom, {{ contact.firstname }} from $societe; $5 off, $unknown")
	if want := []string{"firstname", "lastname", "company"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("PropertyNames = %v, want %v", got, want)
	}
}

func TestLinkHostRefusesTokensWhereTheyChooseTheDestination(t *testing.T) {
	for link, want := range map[string]string{
		"https://shop.example/p?id={{contact.id}}": "shop.example",
		"https://Shop.Example:8443/a/$prenom":      "shop.example",
		"https://{{contact.website}}/x":            "",
		"https://shop.example{{contact.suffix}}/x": "",
		"https://{{contact.user}}@shop.example/":   "",
		"https://user@shop.example/":               "",
		"{{contact.scheme}}://shop.example/":       "",
		"https://shop.example:{{contact.port}}/":   "",
		"https://$societe.example/":                "",
		"https://shop.example/$5-off?price=$5":     "shop.example",
		"https://shop.example?q={{contact.email}}": "shop.example",
	} {
		if got := LinkHost(link); got != want {
			t.Errorf("LinkHost(%q) = %q, want %q", link, got, want)
		}
	}
}

func TestPersonalizeLinkEscapesValues(t *testing.T) {
	values := map[string]string{"id": "42&utm_source=evil", "firstname": "Ana María/../x", "website": "https://evil.example"}
	got := PersonalizeLink("https://shop.example/p/{{contact.firstname}}?id={{ID}}&r={{contact.website}}&n=$prenom", values)
	want := "https://shop.example/p/Ana+Mar%C3%ADa%2F..%2Fx?id=42%26utm_source%3Devil&r=https%3A%2F%2Fevil.example&n=Ana+Mar%C3%ADa%2F..%2Fx"
	if got != want {
		t.Fatalf("PersonalizeLink = %q\nwant              %q", got, want)
	}
	if LinkHost(got) != "shop.example" {
		t.Fatalf("the personalized link left its host: %q", got)
	}
	if c := CompactTokens("see https://x.example/?id={{ contact.id }} now {{firstname }}"); c != "see https://x.example/?id={{contact.id}} now {{firstname}}" {
		t.Fatalf("CompactTokens = %q", c)
	}
}

func TestHostAllowed(t *testing.T) {
	list := []string{"shop.example", "*.brand.example"}
	for host, want := range map[string]bool{
		"shop.example": true, "SHOP.example": true, "www.shop.example": false, "brand.example": true,
		"go.brand.example": true, "evilbrand.example": false, "brand.example.evil": false, "evil.example": false,
	} {
		if got := HostAllowed(host, list); got != want {
			t.Errorf("HostAllowed(%q) = %v, want %v", host, got, want)
		}
	}
	if !HostAllowed("any.example", nil) {
		t.Error("an empty allowlist must allow every host")
	}
}
