package codecommit

import (
	"strings"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ host.Originer = adapter{}

// Origin implements host.Originer. An access key is sent (as signatures)
// to two services: CodeCommit and STS (which tells whose key it is). Both
// endpoints make the origin: options.endpoint and options.sts_endpoint
// when set, otherwise the region's public endpoints.
func (a adapter) Origin(cfg relay.HostConfig) (string, error) {
	cfg, err := a.CheckConfig(cfg)
	if err != nil {
		return "", err
	}
	region := cfg.Options[OptRegion]
	suffix := ".amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		suffix = ".amazonaws.com.cn"
	}
	endpoint, stsEndpoint := cfg.Options[OptEndpoint], cfg.Options[OptSTSEndpoint]
	if endpoint == "" {
		endpoint = "https://codecommit." + region + suffix
	}
	if stsEndpoint == "" {
		stsEndpoint = "https://sts." + region + suffix
	}
	return endpoint + ", " + stsEndpoint, nil
}
