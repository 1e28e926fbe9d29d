package main

import (
	"go.temporal.io/sdk/worker"

	"smsflow/config"
)

// setStickyCache sets the SDK's process-wide sticky cache size (a test watches it).
var setStickyCache = worker.SetStickyWorkflowCacheSize

// workerOptions sizes the worker from the configuration. The sticky cache is process-wide in the
// SDK: it is set here, before the worker is created.
func workerOptions(cfg config.Config) worker.Options {
	w := cfg.Worker
	setStickyCache(w.StickyCacheSize)
	return worker.Options{
		WorkerStopTimeout:                       cfg.WorkerStopTimeout,
		MaxConcurrentActivityExecutionSize:      w.ActivitySlots,
		MaxConcurrentLocalActivityExecutionSize: w.LocalActivitySlots,
		MaxConcurrentWorkflowTaskExecutionSize:  w.WorkflowTaskSlots,
		MaxConcurrentActivityTaskPollers:        w.ActivityPollers,
		MaxConcurrentWorkflowTaskPollers:        w.WorkflowPollers,
	}
}
