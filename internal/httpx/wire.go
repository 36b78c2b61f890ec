package httpx

import (
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// The wire types of action results: the JSON API and the Forge remote
// answer with these, so the Forge panel and API clients read the same
// fields. They are their own types, apart from domain and database types,
// so a secret can never be serialised by accident: no response type has a
// credential field.

// ActedAs is the identity that acted on the host.
type ActedAs struct {
	Via   relay.Via `json:"via"`
	Login string    `json:"login"`
}

// ActedAsOf is the wire form of an identity.
func ActedAsOf(a relay.ActedAs) ActedAs { return ActedAs{Via: a.Via, Login: a.Login} }

// Origins of what an issue lists: created through gitrelay (with its
// attribution), or found by the index in a repository.
const (
	OriginGitrelay = "gitrelay"
	OriginIndexed  = "indexed"
)

// Branch states: the index saw the branch and a pull request from it is
// open, or not; or the index has not seen it (yet).
const (
	BranchActive          = "active"
	BranchPullRequestOpen = "pull_request_open"
	BranchUnindexed       = "unindexed"
)

// BranchRecord is a branch listed on an issue. ActedAs, CreatedBy and
// CreatedAt are set for branches created through gitrelay only.
type BranchRecord struct {
	Name          string     `json:"name"`
	URL           string     `json:"url"`
	IntegrationID string     `json:"integration_id"`
	RepositoryID  string     `json:"repository_id"`
	Repository    string     `json:"repository"`
	Origin        string     `json:"origin"`
	State         string     `json:"state"`
	LastCommit    *CommitRef `json:"last_commit,omitempty"`
	UpdatedAt     time.Time  `json:"updated_at"`
	ActedAs       *ActedAs   `json:"acted_as,omitempty"`
	CreatedBy     string     `json:"created_by,omitempty"`
	CreatedAt     *time.Time `json:"created_at,omitempty"`
}

// CommitRef is a branch's last commit.
type CommitRef struct {
	SHA     string    `json:"sha"`
	Message string    `json:"message"`
	Author  string    `json:"author"`
	Date    time.Time `json:"date"`
	URL     string    `json:"url"`
}

// PullRequestRecord is a pull request listed on an issue. State is open,
// draft, merged or declined. ActedAs, CreatedBy and CreatedAt are set for
// pull requests created through gitrelay only; Author for indexed ones.
type PullRequestRecord struct {
	Number        int        `json:"number"`
	Title         string     `json:"title"`
	URL           string     `json:"url"`
	Source        string     `json:"source"`
	Target        string     `json:"target"`
	Draft         bool       `json:"draft"`
	IntegrationID string     `json:"integration_id"`
	RepositoryID  string     `json:"repository_id"`
	Repository    string     `json:"repository"`
	Origin        string     `json:"origin"`
	State         string     `json:"state"`
	LastCommit    *CommitRef `json:"last_commit,omitempty"`
	UpdatedAt     time.Time  `json:"updated_at"`
	Author        string     `json:"author,omitempty"`
	ActedAs       *ActedAs   `json:"acted_as,omitempty"`
	CreatedBy     string     `json:"created_by,omitempty"`
	CreatedAt     *time.Time `json:"created_at,omitempty"`
}

// Commit is a commit whose message names the issue.
type Commit struct {
	SHA           string    `json:"sha"`
	ShortSHA      string    `json:"short_sha"`
	Message       string    `json:"message"`
	AuthorName    string    `json:"author_name"`
	AuthorEmail   string    `json:"author_email"`
	Date          time.Time `json:"date"`
	URL           string    `json:"url"`
	Branches      []string  `json:"branches"`
	IntegrationID string    `json:"integration_id"`
	RepositoryID  string    `json:"repository_id"`
	Repository    string    `json:"repository"`
	// AuthorUser is the directory user whose email wrote the commit.
	AuthorUser *AuthorUser `json:"author_user,omitempty"`
}

// AuthorUser is a directory user who wrote a commit.
type AuthorUser struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}

// DevIntegration is an integration usable from an issue, with the user's
// token state for it.
type DevIntegration struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Kind            string `json:"kind"`
	RequireUserPAT  bool   `json:"require_user_pat"`
	UserTokenStatus string `json:"user_token_status"`
	SetupURL        string `json:"setup_url"`
}

// Development is an issue's development panel. Its lists are never null.
type Development struct {
	IssueKey     string              `json:"issue_key"`
	Branches     []BranchRecord      `json:"branches"`
	Commits      []Commit            `json:"commits"`
	PullRequests []PullRequestRecord `json:"pull_requests"`
	Integrations []DevIntegration    `json:"integrations"`
}

// DevelopmentOf is the wire form of an issue's development panel: what
// gitrelay created (with its attribution) merged with what the index found
// — one entry per branch (integration, repository, name) and per pull
// request (integration, repository, number) — and the indexed commits.
func DevelopmentOf(d action.Development) Development {
	out := Development{IssueKey: d.IssueKey,
		Branches:     make([]BranchRecord, 0, len(d.Branches)+len(d.Indexed.Branches)),
		Commits:      make([]Commit, 0, len(d.Indexed.Commits)),
		PullRequests: make([]PullRequestRecord, 0, len(d.PullRequests)+len(d.Indexed.PullRequests)),
		Integrations: make([]DevIntegration, 0, len(d.Integrations))}
	type place struct{ integration, repository, name string }
	openFrom := make(map[place]bool, len(d.PullRequests)+len(d.Indexed.PullRequests))
	for _, pr := range d.Indexed.PullRequests {
		if pr.State == "open" || pr.State == "draft" {
			openFrom[place{pr.IntegrationID, pr.RepositoryID, pr.Source}] = true
		}
	}
	for _, pr := range d.PullRequests {
		openFrom[place{pr.IntegrationID, pr.RepositoryID, pr.Source}] = true
	}
	indexedBranch := make(map[place]relay.IssueIndexBranch, len(d.Indexed.Branches))
	for _, b := range d.Indexed.Branches {
		indexedBranch[place{b.IntegrationID, b.RepositoryID, b.Name}] = b
	}
	branchState := func(k place, indexed bool) string {
		switch {
		case !indexed:
			return BranchUnindexed
		case openFrom[k]:
			return BranchPullRequestOpen
		}
		return BranchActive
	}
	lastCommit := func(b relay.IssueIndexBranch) *CommitRef {
		return &CommitRef{SHA: b.SHA, Message: b.Message, Author: b.Author, Date: b.CommitAt.UTC(), URL: d.CommitURLs[b.SHA]}
	}
	seen := make(map[place]bool, len(d.Branches)+len(d.Indexed.Branches))
	for _, b := range d.Branches {
		k := place{b.IntegrationID, b.RepositoryID, b.Name}
		seen[k] = true
		acted, created := ActedAsOf(b.ActedAs), b.CreatedAt.UTC()
		w := BranchRecord{Name: b.Name, URL: b.URL, IntegrationID: b.IntegrationID,
			RepositoryID: b.RepositoryID, Repository: b.Repository, Origin: OriginGitrelay, UpdatedAt: created,
			ActedAs: &acted, CreatedBy: b.CreatedBy, CreatedAt: &created}
		ib, indexed := indexedBranch[k]
		w.State = branchState(k, indexed)
		if indexed {
			w.LastCommit = lastCommit(ib)
			w.UpdatedAt = ib.UpdatedAt.UTC()
		}
		out.Branches = append(out.Branches, w)
	}
	for _, b := range d.Indexed.Branches {
		k := place{b.IntegrationID, b.RepositoryID, b.Name}
		if seen[k] {
			continue
		}
		seen[k] = true
		out.Branches = append(out.Branches, BranchRecord{Name: b.Name, URL: d.BranchURLs[action.BranchKey(b.IntegrationID, b.RepositoryID, b.Name)], IntegrationID: b.IntegrationID,
			RepositoryID: b.RepositoryID, Repository: b.Repository, Origin: OriginIndexed, State: branchState(k, true),
			LastCommit: lastCommit(b), UpdatedAt: b.UpdatedAt.UTC()})
	}
	for _, c := range d.Indexed.Commits {
		branches := c.Branches
		if branches == nil {
			branches = []string{}
		}
		out.Commits = append(out.Commits, Commit{SHA: c.SHA, ShortSHA: relay.ShortSHA(c.SHA), Message: c.Message, AuthorName: c.AuthorName,
			AuthorEmail: c.AuthorEmail, Date: c.At.UTC(), URL: d.CommitURLs[c.SHA], Branches: branches,
			IntegrationID: c.IntegrationID, RepositoryID: c.RepositoryID, Repository: c.Repository})
		if u, ok := d.Authors[strings.ToLower(c.AuthorEmail)]; ok {
			out.Commits[len(out.Commits)-1].AuthorUser = &AuthorUser{Username: u.Username, DisplayName: u.DisplayName}
		}
	}
	type prPlace struct {
		integration, repository string
		number                  int
	}
	indexedPR := make(map[prPlace]relay.IssueIndexPullRequest, len(d.Indexed.PullRequests))
	for _, pr := range d.Indexed.PullRequests {
		indexedPR[prPlace{pr.IntegrationID, pr.RepositoryID, pr.Number}] = pr
	}
	seenPR := make(map[prPlace]bool, len(d.PullRequests))
	for _, pr := range d.PullRequests {
		k := prPlace{pr.IntegrationID, pr.RepositoryID, pr.Number}
		seenPR[k] = true
		acted, created := ActedAsOf(pr.ActedAs), pr.CreatedAt.UTC()
		w := PullRequestRecord{Number: pr.Number, Title: pr.Title, URL: pr.URL,
			Source: pr.Source, Target: pr.Target, Draft: pr.Draft, IntegrationID: pr.IntegrationID,
			RepositoryID: pr.RepositoryID, Repository: pr.Repository, Origin: OriginGitrelay, State: "open", UpdatedAt: created,
			ActedAs: &acted, CreatedBy: pr.CreatedBy, CreatedAt: &created}
		if pr.Draft {
			w.State = "draft"
		}
		if ip, ok := indexedPR[k]; ok {
			w.State, w.Title, w.UpdatedAt, w.Author = ip.State, ip.Title, ip.UpdatedAt.UTC(), ip.Author
			w.Draft = ip.State == "draft"
		}
		out.PullRequests = append(out.PullRequests, w)
	}
	for _, pr := range d.Indexed.PullRequests {
		k := prPlace{pr.IntegrationID, pr.RepositoryID, pr.Number}
		if seenPR[k] {
			continue
		}
		out.PullRequests = append(out.PullRequests, PullRequestRecord{Number: pr.Number, Title: pr.Title, URL: pr.URL,
			Source: pr.Source, Target: pr.Target, Draft: pr.State == "draft", IntegrationID: pr.IntegrationID,
			RepositoryID: pr.RepositoryID, Repository: pr.Repository, Origin: OriginIndexed, State: pr.State,
			UpdatedAt: pr.UpdatedAt.UTC(), Author: pr.Author})
	}
	// A pull request's last commit is its source branch's, when indexed.
	for i := range out.PullRequests {
		pr := &out.PullRequests[i]
		if b, ok := indexedBranch[place{pr.IntegrationID, pr.RepositoryID, pr.Source}]; ok {
			pr.LastCommit = lastCommit(b)
		}
	}
	for _, in := range d.Integrations {
		out.Integrations = append(out.Integrations, DevIntegration{ID: in.ID, Name: in.Name, Kind: string(in.Kind),
			RequireUserPAT: in.RequireUserPAT, UserTokenStatus: string(in.UserTokenStatus), SetupURL: in.SetupURL})
	}
	return out
}

// BranchCreated answers Create branch. A repeated request that finds the
// branch already at the requested base is the same success (201), with
// AlreadyExisted set: a double click or a retry after a lost answer reads
// as what it is, not as a conflict.
type BranchCreated struct {
	Name           string  `json:"name"`
	URL            string  `json:"url"`
	RepositoryID   string  `json:"repository_id"`
	Repository     string  `json:"repository"`
	ActedAs        ActedAs `json:"acted_as"`
	CreatedBy      string  `json:"created_by"`
	AlreadyExisted bool    `json:"already_existed"`
}

// BranchCreatedOf is the answer for a created branch; createdBy is the
// requesting user as the issue's record names them.
func BranchCreatedOf(res action.BranchResult, createdBy string) BranchCreated {
	return BranchCreated{Name: res.Name, URL: res.URL, RepositoryID: res.RepositoryID, Repository: res.Repository,
		ActedAs: ActedAsOf(res.ActedAs), CreatedBy: createdBy, AlreadyExisted: res.AlreadyExists}
}

// PullRequestCreated answers Create pull request. Note tells about an
// adjustment (a draft created as a regular pull request).
type PullRequestCreated struct {
	Number     int     `json:"number"`
	URL        string  `json:"url"`
	Title      string  `json:"title"`
	Draft      bool    `json:"draft"`
	Repository string  `json:"repository"`
	ActedAs    ActedAs `json:"acted_as"`
	CreatedBy  string  `json:"created_by"`
	Note       string  `json:"note,omitempty"`
}

// PullRequestCreatedOf is the answer for a created pull request.
func PullRequestCreatedOf(res action.PullRequestResult, createdBy string) PullRequestCreated {
	return PullRequestCreated{Number: res.Number, URL: res.URL, Title: res.Title, Draft: res.Draft,
		Repository: res.Repository, ActedAs: ActedAsOf(res.ActedAs), CreatedBy: createdBy, Note: res.Note}
}

// Repository is a repository in a picker.
type Repository struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	FullName      string `json:"full_name"`
	DefaultBranch string `json:"default_branch"`
	WebURL        string `json:"web_url"`
}

// RepositoriesOf lists repositories (never null).
func RepositoriesOf(repos []relay.Repository) []Repository {
	out := make([]Repository, 0, len(repos))
	for _, rp := range repos {
		out = append(out, Repository{ID: rp.ID, Name: rp.Name, FullName: rp.FullName, DefaultBranch: rp.DefaultBranch, WebURL: rp.WebURL})
	}
	return out
}

// Branch is a branch on a host, in a picker.
type Branch struct {
	Name string `json:"name"`
	SHA  string `json:"sha"`
	URL  string `json:"url,omitempty"`
}

// BranchesOf lists branches (never null).
func BranchesOf(bs []relay.Branch) []Branch {
	out := make([]Branch, 0, len(bs))
	for _, b := range bs {
		out = append(out, Branch{Name: b.Name, SHA: b.SHA, URL: b.URL})
	}
	return out
}

// Account is a git host account.
type Account struct {
	Login string `json:"login"`
	Name  string `json:"name"`
}

// Integration is an integration as administrators see it.
type Integration struct {
	ID             string            `json:"id"`
	Kind           relay.Kind        `json:"kind"`
	Name           string            `json:"name"`
	BaseURL        string            `json:"base_url"`
	Options        map[string]string `json:"options"`
	Enabled        bool              `json:"enabled"`
	RequireUserPAT bool              `json:"require_user_pat"`
	Projects       []string          `json:"projects"`
	// Repositories is null when every repository the integration account
	// can see is included.
	Repositories []string  `json:"repositories"`
	Account      Account   `json:"account"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Warnings     []string  `json:"warnings,omitempty"`
}

// IntegrationOf is the wire form of an integration, with the warnings of
// the change that returned it.
func IntegrationOf(in relay.Integration, warnings []string) Integration {
	opts := in.Options
	if opts == nil {
		opts = map[string]string{}
	}
	return Integration{ID: in.ID, Kind: in.Kind, Name: in.Name, BaseURL: in.BaseURL, Options: opts,
		Enabled: in.Enabled, RequireUserPAT: in.RequireUserPAT, Projects: in.Projects,
		Repositories: in.Repositories,
		Account:      Account{Login: in.Account.Login, Name: in.Account.Name},
		CreatedAt:    in.CreatedAt.UTC(), UpdatedAt: in.UpdatedAt.UTC(), Warnings: warnings}
}

// Credential is the only request type holding a secret; it is never
// written back.
type Credential struct {
	Token           string `json:"token"`
	Username        string `json:"username"`
	Password        string `json:"password"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

// Credential is the domain credential (which refuses to print itself).
func (c Credential) Credential() relay.Credential {
	return relay.NewCredential(c.Token, c.Username, c.Password, c.AccessKeyID, c.SecretAccessKey)
}

// Token is a user's PAT state for one integration (never the PAT).
type Token struct {
	IntegrationID   string `json:"integration_id"`
	IntegrationName string `json:"integration_name"`
	Kind            string `json:"kind"`
	Required        bool   `json:"required"`
	PATSupported    bool   `json:"pat_supported"`
	Status          string `json:"status"`
	// StatusReason says why, when gitrelay deleted the token (the
	// integration now points at another host).
	StatusReason string     `json:"status_reason,omitempty"`
	Account      *Account   `json:"account"`
	Scopes       []string   `json:"scopes"`
	ExpiresAt    *time.Time `json:"expires_at"`
	ValidatedAt  *time.Time `json:"validated_at"`
	NewTokenURL  string     `json:"new_token_url"`
	Help         string     `json:"help"`
}

// TokenOf is the wire form of a token view.
func TokenOf(v action.TokenView) Token {
	t := Token{IntegrationID: v.IntegrationID, IntegrationName: v.IntegrationName, Kind: string(v.Kind),
		Required: v.Required, PATSupported: v.PATSupported, Status: string(v.Status), StatusReason: v.StatusReason,
		Scopes: []string{}, ExpiresAt: v.ExpiresAt, NewTokenURL: v.NewTokenURL, Help: v.Help}
	if v.Account != nil {
		t.Account = &Account{Login: v.Account.Login, Name: v.Account.Name}
		if v.Account.Scopes != nil {
			t.Scopes = v.Account.Scopes
		}
	}
	if !v.ValidatedAt.IsZero() {
		at := v.ValidatedAt.UTC()
		t.ValidatedAt = &at
	}
	return t
}

// TokensOf lists token views (never null).
func TokensOf(views []action.TokenView) []Token {
	out := make([]Token, 0, len(views))
	for _, v := range views {
		out = append(out, TokenOf(v))
	}
	return out
}
