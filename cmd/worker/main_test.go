package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"

	"smsflow/config"
)

// Started in production with the development stack's secrets, the worker refuses before it connects,
// naming the variables.
func TestRefusesDevelopmentSecrets(t *testing.T) {
	for k, v := range map[string]string{
		"SMSFLOW_ENV": "", "PUBLIC_BASE_URL": "https://sms.example.com", "PHONE_HASH_KEY": "smsflow-dev-phone-hash-key",
		"TOKEN_ENCRYPTION_KEY": "c21zZmxvdy1kZXYta2V5LW5vdC1mb3ItcHJvZHVjdCE=", "HUBSPOT_CLIENT_SECRET": "smsflow-dev-secret",
		"CARRIER_PRIMARY": "sim", "CARRIER_WEBHOOK_SECRET": "",
	} {
		t.Setenv(k, v)
	}
	err := run(slog.New(slog.DiscardHandler))
	for _, name := range []string{"PHONE_HASH_KEY", "TOKEN_ENCRYPTION_KEY", "HUBSPOT_CLIENT_SECRET", "CARRIER_WEBHOOK_SECRET"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("run() = %v, want a refusal naming %s", err, name)
		}
	}
}

// The worker's sizes come from the configuration.
func TestWorkerOptionsFromConfig(t *testing.T) {
	env := map[string]string{"WORKER_ACTIVITY_SLOTS": "64", "WORKER_LOCAL_ACTIVITY_SLOTS": "32", "WORKER_WORKFLOW_TASK_SLOTS": "16",
		"WORKER_ACTIVITY_POLLERS": "3", "WORKER_WORKFLOW_POLLERS": "5", "WORKER_STICKY_CACHE": "1234", "WORKER_STOP_TIMEOUT": "40s"}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	var sticky int
	setStickyCache = func(n int) { sticky = n }
	defer func() { setStickyCache = worker.SetStickyWorkflowCacheSize }()
	o := workerOptions(cfg)
	if o.MaxConcurrentActivityExecutionSize != 64 || o.MaxConcurrentLocalActivityExecutionSize != 32 ||
		o.MaxConcurrentWorkflowTaskExecutionSize != 16 || o.MaxConcurrentActivityTaskPollers != 3 ||
		o.MaxConcurrentWorkflowTaskPollers != 5 || o.WorkerStopTimeout != 40*time.Second {
		t.Fatalf("options = %+v", o)
	}
	if sticky != 1234 {
		t.Fatalf("sticky cache = %d, want 1234", sticky)
	}
}
