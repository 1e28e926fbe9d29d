// Command hubspotapp creates or updates the app's custom workflow actions (actionUrl
// PUBLIC_BASE_URL/hubspot/actions/{sms,voice,ivr}) and timeline event templates from hubspot/app,
// with the developer account's API key, and prints what it did and the HUBSPOT_TIMELINE_TEMPLATES
// value for the worker. Running it again updates and creates nothing.
//
//	HUBSPOT_APP_ID=… HUBSPOT_DEVELOPER_API_KEY=… PUBLIC_BASE_URL=https://sms.example.com bin/hubspotapp
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"smsflow/config"
	"smsflow/hubspot"
)

func main() {
	actions := flag.String("actions-path", hubspot.DefaultActionsPath, "action definitions path prefix")
	templates := flag.String("templates-path", "", "timeline templates path prefix (default: HUBSPOT_PATHS timeline, else "+hubspot.DefaultTemplatesPath+")")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := config.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubspotapp:", err)
		os.Exit(2)
	}
	sync, err := hubspot.NewAppSyncFromConfig(cfg.HubSpot)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubspotapp:", err)
		os.Exit(2)
	}
	sync.ActionsPath = *actions
	if *templates != "" {
		sync.TemplatesPath = *templates
	}
	report, err := sync.Sync(ctx, cfg.PublicBaseURL)
	fmt.Print(report)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubspotapp:", err)
		os.Exit(1)
	}
}
