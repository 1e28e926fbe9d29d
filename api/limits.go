package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"smsflow/config"
)

// Defaults of the limits when the configuration leaves them zero (a Config built by hand).
const (
	defaultMaxBody   = 1 << 20
	defaultDBTimeout = 5 * time.Second
)

// limitBody reads the whole body of every request up to max bytes before any handler runs, so
// no handler can be made to read more, and answers 413 with a JSON reason past it.
func limitBody(max int64) gin.HandlerFunc {
	if max <= 0 {
		max = defaultMaxBody
	}
	tooLarge := func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": "request body too large",
			"max_bytes": max})
	}
	return func(c *gin.Context) {
		if c.Request.Body == nil || c.Request.Body == http.NoBody {
			c.Next()
			return
		}
		if c.Request.ContentLength > max {
			tooLarge(c)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, max))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			tooLarge(c)
			return
		case err != nil:
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "unreadable request body"})
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		c.Next()
	}
}

// requestContext bounds a handler's database calls (and the Temporal signal that follows them)
// by HTTP_DB_TIMEOUT: a slow or locked database makes the request fail, not pile up.
func (d Deps) requestContext(c *gin.Context) (context.Context, context.CancelFunc) {
	t := d.Config.HTTP.DBTimeout
	if t <= 0 {
		t = defaultDBTimeout
	}
	return context.WithTimeout(c.Request.Context(), t)
}

// rateLimit is a token bucket: burst requests at once, then rate a second.
type rateLimit struct {
	rate  float64 // tokens a second
	burst float64
}

// Limits of the public endpoints (the link limits are the defaults of LINK_LIMIT_PER_IP and
// LINK_LIMIT_PER_CODE). A person clicks a link or opens an unsubscribe page a few times;
// link previews of a shared message add a few more. Guessing codes needs millions of requests.
var (
	linkPerIP    = rateLimit{rate: 1, burst: 30}      // per client IP, /l/ and /u/ together
	linkPerCode  = rateLimit{rate: 0.2, burst: 20}    // per code, whoever asks
	oauthPerIP   = rateLimit{rate: 1.0 / 6, burst: 5} // OAuth callbacks per client IP (each calls HubSpot)
	limiterKeys  = 50_000                             // keys each limiter remembers at most
	limiterSweep = 10 * time.Second                   // at most one full sweep per interval
)

// limitOr is the configured limit, else def.
func limitOr(c config.RateLimit, def rateLimit) rateLimit {
	if c.PerSecond <= 0 || c.Burst < 1 {
		return def
	}
	return rateLimit{rate: c.PerSecond, burst: c.Burst}
}

// limiter holds a token bucket per key (a client IP, a code) in bounded memory: a bucket that has
// refilled is the same as no bucket, so a full map first drops those, and past that drops
// arbitrary ones (which only gives their keys a fresh burst).
type limiter struct {
	limit   rateLimit
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(l rateLimit) *limiter {
	return &limiter{limit: l, maxKeys: limiterKeys, now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes a token of key; without one it says how long until the next.
func (l *limiter) allow(key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.makeRoom(now)
		}
		b = &bucket{tokens: l.limit.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.limit.burst, b.tokens+now.Sub(b.last).Seconds()*l.limit.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.limit.rate * float64(time.Second))
}

func (l *limiter) makeRoom(now time.Time) {
	if now.Sub(l.swept) >= limiterSweep {
		l.swept = now
		full := time.Duration(l.limit.burst / l.limit.rate * float64(time.Second))
		for k, b := range l.buckets {
			if now.Sub(b.last) >= full {
				delete(l.buckets, k)
			}
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.maxKeys {
			break
		}
		delete(l.buckets, k)
	}
}

// tooMany answers 429 with Retry-After in whole seconds.
func tooMany(c *gin.Context, retryAfter time.Duration) {
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(math.Max(retryAfter.Seconds(), 1)))))
	c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{"error": "too many requests, retry later"})
}

// clientKey is the rate-limit key of the request's client: its IP (as the trusted proxies report
// it), an IPv6 client by its /64, which one subscriber usually holds whole.
func clientKey(c *gin.Context) string {
	ip := net.ParseIP(c.ClientIP())
	if ip == nil {
		return c.ClientIP()
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// perClient is a middleware refusing a client past limit.
func perClient(lim *limiter) gin.HandlerFunc {
	return func(c *gin.Context) {
		if ok, wait := lim.allow(clientKey(c)); !ok {
			tooMany(c, wait)
			return
		}
		c.Next()
	}
}
