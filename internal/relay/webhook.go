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
