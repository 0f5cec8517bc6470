// Package securityhub is the function's Security Hub client: exactly
// BatchImportFindings and GetFindings, over the REST JSON protocol, sent by
// lambda/awscall (the SDK's SigV4 signer, the aws.Config's credentials,
// HTTP client and retryer, the SDK's endpoint rules for Security Hub).
//
// Why not the SDK's client: its BatchImportFindings and GetFindings
// serializers and deserializers reach every ASFF resource-details type
// (3.3 MiB of the 14.8 MiB arm64 bootstrap), and the function already holds
// each finding as ASFF JSON (lambda/finding): the SDK's client would decode
// it into its types only to encode it again. The SDK offers no way to send
// an operation's body as is: an operation's serializer is linked whenever
// the operation is. Importing service/securityhub for its endpoint rules
// alone links 16 KiB of it (its package has no schemas to initialize).
package securityhub

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"github.com/s3xguard/s3xguard/lambda/awscall"
)

// Service is Security Hub to lambda/awscall: AWS_ENDPOINT_URL_SECURITYHUB,
// SigV4 name securityhub, the SDK's endpoint rules.
var Service = awscall.Service{SDKID: "SecurityHub", SigningName: "securityhub", Endpoint: endpoint}

func endpoint(ctx context.Context, p awscall.EndpointParams) (string, error) {
	ep, err := securityhub.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, securityhub.EndpointParameters{
		Region: aws.String(p.Region), Endpoint: p.Endpoint, UseFIPS: p.UseFIPS, UseDualStack: p.UseDualStack,
	})
	if err != nil {
		return "", err
	}
	return ep.URI.String(), nil
}

// Client calls Security Hub.
type Client struct {
	*awscall.Client
}

// New returns a client for cfg's region, credentials, HTTP client and
// retryer, at the endpoint the SDK's own client would use.
func New(cfg aws.Config) (*Client, error) {
	c, err := awscall.New(cfg, Service)
	if err != nil {
		return nil, err
	}
	return &Client{c}, nil
}

// BatchImportFindingsOutput is BatchImportFindings' answer. It is 200 even
// when findings are refused: FailedCount and FailedFindings say which.
type BatchImportFindingsOutput struct {
	FailedCount    *int                  `json:"FailedCount"`
	SuccessCount   *int                  `json:"SuccessCount"`
	FailedFindings []ImportFindingsError `json:"FailedFindings"`
}

// ImportFindingsError is one refused finding.
type ImportFindingsError struct {
	ID           string `json:"Id"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

// BatchImportFindings imports findings, each an ASFF finding as JSON (at
// most 100 a call).
func (c *Client) BatchImportFindings(ctx context.Context, findings []json.RawMessage) (*BatchImportFindingsOutput, error) {
	body, err := json.Marshal(struct {
		Findings []json.RawMessage `json:"Findings"`
	}{findings})
	if err != nil {
		return nil, fmt.Errorf("BatchImportFindings of %d findings: %w", len(findings), err)
	}
	var out BatchImportFindingsOutput
	if err := c.Do(ctx, awscall.Request{Op: "BatchImportFindings", Path: "/findings/import", ContentType: "application/json", Body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetFindingsInput asks for the findings with the given IDs (at most 20: a
// filter field's limit).
type GetFindingsInput struct {
	IDs        []string
	MaxResults int
	NextToken  string
}

// GetFindingsOutput is one page of findings, each as Security Hub wrote it.
type GetFindingsOutput struct {
	Findings  []json.RawMessage `json:"Findings"`
	NextToken string            `json:"NextToken"`
}

type stringFilter struct {
	Comparison string `json:"Comparison"`
	Value      string `json:"Value"`
}

// GetFindings reads one page of the findings in.IDs.
func (c *Client) GetFindings(ctx context.Context, in *GetFindingsInput) (*GetFindingsOutput, error) {
	req := struct {
		Filters struct {
			ID []stringFilter `json:"Id,omitempty"`
		} `json:"Filters"`
		MaxResults int    `json:"MaxResults,omitempty"`
		NextToken  string `json:"NextToken,omitempty"`
	}{MaxResults: in.MaxResults, NextToken: in.NextToken}
	for _, id := range in.IDs {
		req.Filters.ID = append(req.Filters.ID, stringFilter{Comparison: "EQUALS", Value: id})
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("GetFindings of %d IDs: %w", len(in.IDs), err)
	}
	var out GetFindingsOutput
	if err := c.Do(ctx, awscall.Request{Op: "GetFindings", Path: "/findings", ContentType: "application/json", Body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
