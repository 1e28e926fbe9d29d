package api

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"smsflow/carrier/dispatch"
	"smsflow/carrier/sim"
	"smsflow/config"
	"smsflow/internal/testenv"
	"smsflow/voice"
	"smsflow/workflows"
)

// The simulator places a call through the call placer, fetches the script from the API, presses
// a wrong key then 2 as scripted, and the API stores and signals each as a CallEvent.
func TestSimulatedIVRCallReachesTheWebhooks(t *testing.T) {
	ctx := context.Background()
	db, tc := testenv.Store(t), testenv.Temporal(t)
	s := sim.New(sim.Options{Delay: 5 * time.Millisecond, WebhookSecret: "whsec"})
	t.Cleanup(s.Close)
	simSrv := httptest.NewServer(s)
	t.Cleanup(simSrv.Close)
	// The API's public URL is known once it listens: build the router behind a swappable handler.
	var h handlerBox
	apiSrv := httptest.NewServer(&h)
	t.Cleanup(apiSrv.Close)
	cfg := config.Config{PublicBaseURL: apiSrv.URL, Carrier: config.Carrier{Primary: "sim", SimURL: simSrv.URL, WebhookSecret: "whsec"}}
	h.set(NewRouter(Deps{Log: slog.New(slog.DiscardHandler), Config: cfg, Temporal: tc, Store: db}))

	id := uuid.NewString()
	if err := db.SaveCallScript(ctx, 42, ivrScript(id)); err != nil {
		t.Fatal(err)
	}
	wid := workflows.SMSWorkflowID(id)
	if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wid, TaskQueue: "voice-test-" + testenv.RandomID(),
		WorkflowRunTimeout: 10 * time.Minute}, "SignalRecorder"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tc.TerminateWorkflow(context.Background(), wid, "", "test over") })
	to := "+33612345601"
	if err := s.SetVoiceNumber(to, sim.VoiceNumber{Answer: sim.AnswerHuman, TalkSeconds: 25,
		Keys: []sim.KeyPress{{Key: "7", After: sim.Duration(20 * time.Millisecond)}, {Key: "2", After: sim.Duration(20 * time.Millisecond)}}}); err != nil {
		t.Fatal(err)
	}
	placer, err := dispatch.CallPlacerFromConfig(cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	call := voice.Call{ID: id, PortalID: 42, From: "+33612345600", To: to, MachineDetection: true}
	rec, err := placer.PlaceCall(ctx, call)
	if err != nil || rec.Carrier != "sim" || rec.CarrierCallID == "" {
		t.Fatalf("%+v %v", rec, err)
	}
	if again, err := placer.PlaceCall(ctx, call); err != nil || again.CarrierCallID != rec.CarrierCallID {
		t.Fatalf("again %+v %v", again, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	done, err := s.WaitCall(wctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Drain(wctx); err != nil {
		t.Fatal(err)
	}
	if done.Requests != 1 || !slices.Equal(done.Pressed, []string{"7", "2"}) || len(done.Errors) != 0 ||
		!slices.Equal(done.Said, []string{"Tapez 1, 2 ou 9", "Touche inconnue", "Tapez 1, 2 ou 9", "Un SMS arrive"}) {
		t.Fatalf("simulated call %+v", done)
	}
	e := &hookEnv{t: t, db: db, tc: tc}
	got := e.waitCallEvents(id, 4)
	var seen []string
	for _, ce := range got {
		seen = append(seen, ce.Kind+":"+ce.Status+ce.Key+":"+ce.Action+ce.AnsweredBy)
	}
	want := []string{"status:answered:human", "key:7:wrong-key", "key:2:sms", "status:completed:human"}
	if !slices.Equal(seen, want) || got[3].DurationSeconds != 25 {
		t.Fatalf("signals %v (%+v), want %v", seen, got, want)
	}
	events, err := db.Events(ctx, id)
	if err != nil || len(events) != 6 { // initiated, ringing, answered, 2 keys, completed
		t.Fatalf("%d events stored, %v", len(events), err)
	}
}
