package carrier

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Class says what a failed send means for the next step.
type Class int

const (
	// Temporary: the message was not accepted; sending again later may succeed.
	Temporary Class = iota + 1
	// Permanent: the carrier refused the message (invalid or unassigned number, blocked, opted
	// out, bad sender…); sending again will fail the same way.
	Permanent
	// RateLimited: the carrier asked us to slow down; the message was not accepted.
	RateLimited
	// Uncertain: the request may have been accepted but the answer was lost (timeout, reset
	// connection after the request was written) or was a server error. Sending again risks a
	// duplicate.
	Uncertain
	// Partial: the carrier took some parts of a multipart message and refused others (see
	// Error.PartIDs). The parts taken may reach the recipient: sending again would repeat them.
	Partial
)

func (c Class) String() string {
	switch c {
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	case RateLimited:
		return "rate-limited"
	case Uncertain:
		return "uncertain"
	case Partial:
		return "partial"
	}
	return "unclassified"
}

// Sentinels matched by errors.Is on an *Error of the same class.
var (
	ErrTemporary   = errors.New("carrier: temporary failure")
	ErrPermanent   = errors.New("carrier: permanent failure")
	ErrRateLimited = errors.New("carrier: rate limited")
	ErrUncertain   = errors.New("carrier: send outcome uncertain")
	ErrPartial     = errors.New("carrier: multipart message taken in part")
	// ErrLookupUnsupported: the carrier's API cannot find a message by our reference.
	ErrLookupUnsupported = errors.New("carrier: lookup by reference not supported")
)

// Error is a classified carrier failure.
type Error struct {
	Carrier    string
	Class      Class
	Code       string // the carrier's code, e.g. Twilio "21610", Vonage status "7"
	Message    string // the carrier's text
	HTTPStatus int
	// NumberInvalid: the number is not assigned / not valid; the record's number gets marked invalid.
	NumberInvalid bool
	// OptedOut: the recipient opted out at the carrier (Twilio 21610).
	OptedOut bool
	// RetryAfter is the carrier's hint for RateLimited, zero when none.
	RetryAfter time.Duration
	// PartIDs, for Partial, has one entry per part of the carrier's answer: the carrier's id of a
	// part it took, "" for a part it refused (Code and Message are the first refusal's).
	PartIDs []string
	Err     error // the cause, if any
}

func (e *Error) Error() string {
	s := fmt.Sprintf("carrier %s: %s", e.Carrier, e.Class)
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.HTTPStatus)
	}
	if e.Code != "" {
		s += " code " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of the error's class.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrTemporary:
		return e.Class == Temporary
	case ErrPermanent:
		return e.Class == Permanent
	case ErrRateLimited:
		return e.Class == RateLimited
	case ErrUncertain:
		return e.Class == Uncertain
	case ErrPartial:
		return e.Class == Partial
	}
	return false
}

// ClassOf returns the class of err: the Class of an *Error in its chain, else Temporary for any
// other non-nil error, 0 for nil.
func ClassOf(err error) Class {
	if err == nil {
		return 0
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Class
	}
	return Temporary
}

// TransportError classifies an error of http.Client.Do for req, a request that creates a message
// (NewSendRequest): a request whose body never left (no connection, a refused departure, a context
// ended before the body was written) was not sent (Temporary); one whose body left may have been
// taken (Uncertain). A request not built by NewSendRequest is judged by the error alone: a failure
// to connect is Temporary, anything else Uncertain.
func TransportError(carrierName string, req *http.Request, err error) *Error {
	if !Departed(req) {
		return &Error{Carrier: carrierName, Class: Temporary, Message: "not sent: the request never left", Err: err}
	}
	class := Uncertain
	var opErr *net.OpError
	var dnsErr *net.DNSError
	if errors.As(err, &opErr) && opErr.Op == "dial" || errors.As(err, &dnsErr) {
		class = Temporary
	}
	return &Error{Carrier: carrierName, Class: class, Err: err}
}
