package encoding

import (
	"testing"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/gsm7/charset"
)

// benchCorpus is a fixed set of real-looking messages: French, Portuguese, Spanish, Turkish,
// English, with emoji; single and multipart, GSM-7 and UCS-2.
var benchCorpus = []string{
	// FR
	"Bonjour Marie, votre rendez-vous est confirmé le 12/03 à 14h30. Répondez STOP pour ne plus recevoir de SMS.",
	"Votre commande n°48213 a été expédiée. Suivez-la ici : https://sf.example/t/48213 — à très bientôt chez Maison Durand ! STOP au 36111",
	"Rappel : votre facture de 89,90 € arrive à échéance le 30 novembre. Pour éviter toute interruption de service, merci de procéder au règlement depuis votre espace client. En cas de question, notre équipe est joignable du lundi au samedi de 8h à 20h.",
	// PT
	"Olá João, a sua encomenda está a caminho e chega amanhã entre as 9h e as 13h. Obrigado pela preferência!",
	"Promoção de inverno: até 50% de desconto em toda a loja até domingo. Aproveite já em loja.example/pt ou visite-nos. Para não receber mais mensagens responda NÃO.",
	// ES
	"¡Hola Lucía! Tu cita en la clínica es mañana a las 10:00. Responde SÍ para confirmar o NO para cancelar.",
	"Tu código de verificación es 482913. No lo compartas con nadie. Caduca en 10 minutos.",
	// TR
	"Merhaba Ayşe, siparişiniz kargoya verildi. Takip numarası: 7823 4410 9921. İyi günler dileriz!",
	"Değerli müşterimiz, hesabınıza giriş yapıldı. Bu işlemi siz yapmadıysanız lütfen hemen bizi arayın: 0850 000 00 00. Güvenliğiniz için şifrenizi kimseyle paylaşmayın.",
	// EN
	"Hi Tom, your table for 4 at The Olive Tree is booked for Friday 7:30pm. Reply C to cancel.",
	"Your parcel could not be delivered today because nobody was available to sign for it. We will try again tomorrow between 8am and 6pm, or you can pick it up from the depot at 12 High Street after 2pm. Reply STOP to opt out [ref: 55-201]",
	// Emoji
	"Happy birthday Sam! 🎉🎂 Enjoy 20% off today with code BDAY20 👉 shop.example",
	"Joyeux Noël 🎄 à toute la famille ! Profitez de la livraison offerte jusqu'au 24 décembre 🎁✨ Merci de votre fidélité 🙏",
}

var benchBytes = func() [][]byte {
	b := make([][]byte, len(benchCorpus))
	for i, s := range benchCorpus {
		b[i] = []byte(s)
	}
	return b
}()

// BenchmarkCorpus runs this package and warthog618/sms v0.3.0 side by side on the same corpus
// (one op = the whole corpus). "default": default alphabet, UCS-2 when needed (warthog's
// default). "national": the message's own national tables enabled on both sides where it has
// some (pt, es, tr), default otherwise.
//
//	go test -run=^$ -bench=. -benchmem -count=6 ./encoding | tee /tmp/enc.txt
func BenchmarkCorpus(b *testing.B) {
	uni := Options{AllowUnicode: true}
	b.Run("default/Count", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, s := range benchCorpus {
				if _, err := Count(s, uni); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("default/Encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, s := range benchCorpus {
				if _, err := Encode(s, uni); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("default/warthog618", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, m := range benchBytes {
				if _, err := sms.Encode(m); err != nil {
					b.Fatal(err)
				}
			}
		}
	})

	langs := []Language{Spanish, Spanish, Spanish, Portuguese, Portuguese, Spanish, Spanish, Turkish, Turkish,
		NoLanguage, NoLanguage, NoLanguage, Spanish}
	nli := map[Language]int{Portuguese: charset.Portuguese, Spanish: charset.Spanish, Turkish: charset.Turkish}
	b.Run("national/Count", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i, s := range benchCorpus {
				if _, err := Count(s, Options{AllowUnicode: true, NationalLanguage: langs[i]}); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("national/Encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i, s := range benchCorpus {
				if _, err := Encode(s, Options{AllowUnicode: true, NationalLanguage: langs[i]}); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("national/warthog618", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i, m := range benchBytes {
				var opts []sms.EncoderOption
				if langs[i] != NoLanguage {
					opts = append(opts, sms.WithCharset(nli[langs[i]]))
				}
				if _, err := sms.Encode(m, opts...); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	// Ours only: warthog618/sms has no transliteration.
	b.Run("transliterate/Count", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, s := range benchCorpus[:11] { // no emoji
				if _, err := Count(s, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
