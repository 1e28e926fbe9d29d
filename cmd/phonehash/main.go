// Command phonehash prints the SmsPhoneHash search-attribute value of phone numbers, so an
// operator can find a recipient's messages in the Web UI without the number ever being stored in
// clear there. It reads PHONE_HASH_KEY like the worker; numbers are normalised with the country.
//
//	PHONE_HASH_KEY=… bin/phonehash -country FR 06 12 34 56 78
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"smsflow/activities"
	"smsflow/config"
	"smsflow/phone"
)

func main() {
	country := flag.String("country", "", "country of numbers written without an international prefix")
	flag.Parse()
	cfg, err := config.FromEnv()
	if err != nil || cfg.PhoneHashKey == "" {
		fmt.Fprintln(os.Stderr, "phonehash: PHONE_HASH_KEY must be set to the worker's value", err)
		os.Exit(2)
	}
	n, err := phone.Parse(strings.Join(flag.Args(), " "), *country)
	if err != nil {
		fmt.Fprintln(os.Stderr, "phonehash:", err)
		os.Exit(1)
	}
	h := activities.PhoneHash([]byte(cfg.PhoneHashKey), n.E164)
	fmt.Printf("%s\nWeb UI query: SmsPhoneHash = \"%s\"\n", h, h)
}
