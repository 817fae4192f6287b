package portal

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// changeLimit is the limit on key changes (Config.ChangeRate, ChangeBurst):
// a token bucket per user and app. The zero value limits nothing.
type changeLimit struct {
	buckets *ratelimit.Buckets // nil when lifted
	rate    float64
	log     zerolog.Logger // sampled: at most one line a second
}

func newChangeLimit(rate float64, burst int, log zerolog.Logger) (changeLimit, error) {
	switch {
	case math.IsNaN(rate) || math.IsInf(rate, 1):
		return changeLimit{}, errors.New("portal: Config.ChangeRate must be a number (NoChangeLimit lifts the limit)")
	case rate < 0:
		return changeLimit{}, nil
	case rate == 0:
		rate = DefaultChangeRate
	}
	switch {
	case burst < 0:
		return changeLimit{}, fmt.Errorf("portal: Config.ChangeBurst must not be negative, got %d", burst)
	case burst == 0:
		burst = DefaultChangeBurst
	}
	return changeLimit{
		buckets: ratelimit.NewBuckets(rate, burst),
		rate:    rate,
		log:     log.Sample(&zerolog.BurstSampler{Burst: 1, Period: time.Second}),
	}, nil
}

// allow takes a token of the session user's bucket at now, for a key change
// the handler is about to ask of the store (a request refused before that,
// for its input, costs nothing). Without a token it answers 429 with
// Retry-After and a message for the page, and returns false.
func (l changeLimit) allow(c *gin.Context, s *session, now time.Time) bool {
	if l.buckets == nil {
		return true
	}
	// The app is the tenant's (withSession checked), and its slug has no
	// space: "<app> <user>" names one user of one app.
	ok, wait := l.buckets.Allow(s.App+" "+s.User, now)
	if ok {
		return true
	}
	secs := ratelimit.CeilSeconds(wait)
	l.log.Warn().Str("user", s.User).Str("tenant", s.Tenant).Str("app", s.App).
		Str("request_id", requestID(c)).Int64("retry_after_s", secs).Msg("portal key changes rate limited")
	c.Header("Retry-After", strconv.FormatInt(secs, 10))
	fail(c, http.StatusTooManyRequests, "rate_limited", fmt.Sprintf(
		"Too many key changes in a short time (at most %s a minute). Try again in %s.",
		strconv.FormatFloat(l.rate, 'f', -1, 64), plural(secs, "second")))
	return false
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.FormatInt(n, 10) + " " + unit + "s"
}
