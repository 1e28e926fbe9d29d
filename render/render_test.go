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
