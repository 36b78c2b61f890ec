package relay

import "time"

// Webhook is an integration's webhook as stored: its sealed secret and
// what it received. The secret is sealed with WebhookSecretOwner.
type Webhook struct {
	TenantID      string
	IntegrationID string
	// Kind and Enabled are the integration's.
	Kind           Kind
	Enabled        bool
	SealedSecret   []byte
	CreatedAt      time.Time
	RotatedAt      time.Time
	Deliveries     int64
	Refused        int64
	LastDeliveryAt time.Time // zero: never
	LastRefusedAt  time.Time // zero: never
}

// WebhookSecretOwner binds an integration's webhook secret to its row.
func WebhookSecretOwner(tenantID, integrationID string) string {
	return "integration-webhook\x00" + tenantID + "\x00" + integrationID
}

// RepositoryChange is a repository a verified webhook delivery said
// changed, queued for an incremental read.
type RepositoryChange struct {
	TenantID      string
	IntegrationID string
	// Repository is the host's full name; RepositoryID its id when the
	// delivery named it.
	Repository   string
	RepositoryID string
	Event        string // "push" or "pull_request"
	ReceivedAt   time.Time
}

// Hook is the webhook gitrelay asks a host to deliver to it: one per
// repository, delivering the events gitrelay reads with the proof the
// receiver checks.
type Hook struct {
	// URL is where the host delivers (an absolute http(s) URL).
	URL string
	// Events are the events to deliver, in the host's own names (GitHub's
	// "push", GitLab's "push_events", Azure DevOps' "git.push", ...).
	Events []string
	// Secret is the delivery's proof: Token for the hosts that sign
	// deliveries or send a token (GitHub, GitLab, Gitea), Username and
	// Password for basic authentication (Azure DevOps service hooks).
	Secret Credential
	// SecretAt is when the secret was made (the webhook's RotatedAt), as
	// a registration records it.
	SecretAt time.Time
	// SecretSet says the host's hook delivering to URL already carries
	// Secret: gitrelay set it, and the secret was not rotated since.
	// Hosts never show a hook's secret, so only then may a hook that is
	// otherwise right be left as it is.
	SecretSet bool
}

// HookChange is what making sure of a repository's hook changed on the
// host.
type HookChange string

const (
	HookCreated   HookChange = "created"   // there was no hook delivering to the URL
	HookUpdated   HookChange = "updated"   // the hook delivering to the URL was set again
	HookUnchanged HookChange = "unchanged" // the hook was right: nothing was sent
)

// HostHook is a repository's hook as the host shows it, without its
// secret (which no host shows).
type HostHook struct {
	ID     string
	URL    string
	Events []string
	// Active is false for a hook the host will not deliver to (turned
	// off, or disabled by the host after failed deliveries).
	Active bool
}

// WebhookRegistration records that gitrelay registered an integration's
// webhook on a repository, and with which secret (the webhook's
// RotatedAt when it was sent).
type WebhookRegistration struct {
	TenantID      string
	IntegrationID string
	RepositoryID  string
	Repository    string
	SecretAt      time.Time
	RegisteredAt  time.Time
}
