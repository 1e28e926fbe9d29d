// Command hubspotapp creates or updates the app's custom workflow actions (actionUrl
// PUBLIC_BASE_URL/hubspot/actions/{sms,voice,ivr}) and timeline event templates from hubspot/app,
// with the developer account's API key, and prints what it did and the HUBSPOT_TIMELINE_TEMPLATES
// value for the worker. Running it again updates and creates nothing.
//
//	HUBSPOT_APP_ID=… HUBSPOT_DEVELOPER_API_KEY=… PUBLIC_BASE_URL=https://sms.example.com bin/hubspotapp
//
// With -write-project DIR it instead writes the same action definitions as the workflow-action
// components of the HubSpot developer project in DIR (hubspot-project), and exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"smsflow/config"
	"smsflow/hubspot"
	"smsflow/hubspot/app"
)

func main() {
	actions := flag.String("actions-path", hubspot.DefaultActionsPath, "action definitions path prefix")
	templates := flag.String("templates-path", "", "timeline templates path prefix (default: HUBSPOT_PATHS timeline, else "+hubspot.DefaultTemplatesPath+")")
	project := flag.String("write-project", "", "write the action definitions into this HubSpot developer project and exit")
	flag.Parse()
	if *project != "" {
		if err := writeProject(*project); err != nil {
			fmt.Fprintln(os.Stderr, "hubspotapp:", err)
			os.Exit(1)
		}
		return
	}
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

// writeProject writes the generated files of the HubSpot developer project under dir.
func writeProject(dir string) error {
	files, err := app.ProjectFiles()
	if err != nil {
		return err
	}
	for path, b := range files {
		full := filepath.Join(dir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", full)
	}
	return nil
}
