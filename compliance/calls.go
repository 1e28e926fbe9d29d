package compliance

import (
	"time"

	"github.com/rickar/cal/v2/es"
	"github.com/rickar/cal/v2/fr"
	"github.com/rickar/cal/v2/us"
)

// CallRulesVersion identifies the default call table; change it with every change to its data.
const CallRulesVersion = "2026-11-26.1"

// CallTable returns a fresh copy of the windows of prospecting (marketing) voice calls, in the
// recipient's local time. Calls have their own rules, apart from SMS: the same Table type and
// NextSendTime, where Marketing means a prospecting call and Transactional calls are never held.
// Only the windows matter here (no STOP mention, no content rules).
//
// Countries without a rule are not held; a country whose call rules we have not checked is
// better left out than guessed.
func CallTable() *Table {
	// France: Code de la consommation art. L223-1 and D223-8 (décret n° 2022-1313 du 13 octobre
	// 2022), in force since 1 March 2023: prospecting calls to consumers Monday to Friday,
	// 10:00–13:00 and 14:00–20:00, never on Saturdays, Sundays or public holidays.
	frHours := every(monFri, Window{At(10, 0), At(13, 0)}, Window{At(14, 0), At(20, 0)})
	// United States: TCPA, 47 CFR 64.1200(c)(1): no telephone solicitation before 8 a.m. or after
	// 9 p.m. at the called party's location; every day (federal holidays are not excluded).
	usHours := every(allWeek, Window{At(8, 0), At(21, 0)})
	// Colombia: Ley 2300 de 2023 art. 3 covers calls as well as messages: Monday to Friday
	// 07:00–19:00, Saturday 08:00–15:00, never Sundays or public holidays.
	coHours := every(monFri, Window{At(7, 0), At(19, 0)})
	coHours[time.Saturday] = []Window{{At(8, 0), At(15, 0)}}
	// Spain: Texto refundido de la Ley General para la Defensa de los Consumidores y Usuarios
	// (Real Decreto Legislativo 1/2007) art. 96, as amended by Ley 3/2014: commercial calls not
	// before 09:00 or after 21:00, nor on public holidays or weekends. (Ley 11/2022 art. 66.1 b
	// also requires prior consent for calls by a person; consent is not checked here.)
	esHours := every(monFri, Window{At(9, 0), At(21, 0)})

	return &Table{
		Version: CallRulesVersion,
		Subject: "prospecting calls",
		Rules: map[string]Rule{
			"FR": {Country: "FR", Name: "France", Source: "Code de la consommation L223-1, D223-8 (décret 2022-1313)",
				Hours: &frHours, ClosedOnHolidays: true, Holidays: libCalendar(fr.Holidays), Timezones: []string{"Europe/Paris"}},
			"US": {Country: "US", Name: "United States", Source: "TCPA, 47 CFR 64.1200(c)(1)",
				Hours: &usHours, Holidays: libCalendar(us.Holidays),
				Timezones: []string{"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"}},
			"CO": {Country: "CO", Name: "Colombia", Source: "Ley 2300 de 2023 art. 3; holidays: Ley 51 de 1983",
				Hours: &coHours, ClosedOnHolidays: true, Holidays: Colombia, Timezones: []string{"America/Bogota"}},
			"ES": {Country: "ES", Name: "Spain", Source: "RDL 1/2007 (TRLGDCU) art. 96, as amended by Ley 3/2014",
				Hours: &esHours, ClosedOnHolidays: true, Holidays: libCalendar(es.Holidays), Timezones: []string{"Europe/Madrid"}},
		},
		Aliases: map[string]string{"PR": "US", "VI": "US", "GU": "US", "AS": "US", "MP": "US"},
	}
}
