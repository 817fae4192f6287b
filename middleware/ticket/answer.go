package ticket

// Answer is one answer of the ticket route as a browser's fetch of it would
// see it: the status, the Retry-After header (429) and the JSON body (a
// Response for 200, {"error": …} otherwise). A page that issues its first
// ticket while it renders (middleware.TicketRoute.PageTicket, used by
// middleware/shell) hands it to the shell in the page instead of a fetch.
type Answer struct {
	// Status is the HTTP status the route would have answered.
	Status int
	// RetryAfter is the Retry-After value of a 429, in seconds; else empty.
	RetryAfter string
	// Body is the answer's JSON body.
	Body []byte
}
