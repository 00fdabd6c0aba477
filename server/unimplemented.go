package server

import (
	"context"

	"github.com/vero-oms/omsd/gen"
)

// The OMS domain routes (Trading, Portfolio & Risk, Administration,
// latency diagnostics) are registered through the generated interface so the
// whole contract is served and validated; until their issues land each
// answers 501 in its route's envelope (after the bearer and role checks).

func (s *Server) DeleteApiV1UtilAdminPermissions(context.Context, gen.DeleteApiV1UtilAdminPermissionsRequestObject) (gen.DeleteApiV1UtilAdminPermissionsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) DeleteApiV1UtilFirmsTraders(context.Context, gen.DeleteApiV1UtilFirmsTradersRequestObject) (gen.DeleteApiV1UtilFirmsTradersResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) DeleteApiV1UtilGroupsMembers(context.Context, gen.DeleteApiV1UtilGroupsMembersRequestObject) (gen.DeleteApiV1UtilGroupsMembersResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) DeleteApiV1UtilReference(context.Context, gen.DeleteApiV1UtilReferenceRequestObject) (gen.DeleteApiV1UtilReferenceResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1OmsAdminMappings(context.Context, gen.GetApiV1OmsAdminMappingsRequestObject) (gen.GetApiV1OmsAdminMappingsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1OmsAdminMappingsAccountCode(context.Context, gen.GetApiV1OmsAdminMappingsAccountCodeRequestObject) (gen.GetApiV1OmsAdminMappingsAccountCodeResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1OmsRiskAccounts(context.Context, gen.GetApiV1OmsRiskAccountsRequestObject) (gen.GetApiV1OmsRiskAccountsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1OmsRiskAccountsAccountId(context.Context, gen.GetApiV1OmsRiskAccountsAccountIdRequestObject) (gen.GetApiV1OmsRiskAccountsAccountIdResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1OmsRiskRules(context.Context, gen.GetApiV1OmsRiskRulesRequestObject) (gen.GetApiV1OmsRiskRulesResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1OrdersRiskRules(context.Context, gen.GetApiV1OrdersRiskRulesRequestObject) (gen.GetApiV1OrdersRiskRulesResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilAdminPermissions(context.Context, gen.GetApiV1UtilAdminPermissionsRequestObject) (gen.GetApiV1UtilAdminPermissionsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilAudit(context.Context, gen.GetApiV1UtilAuditRequestObject) (gen.GetApiV1UtilAuditResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilFirmsTraders(context.Context, gen.GetApiV1UtilFirmsTradersRequestObject) (gen.GetApiV1UtilFirmsTradersResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilGroups(context.Context, gen.GetApiV1UtilGroupsRequestObject) (gen.GetApiV1UtilGroupsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilGroupsMembers(context.Context, gen.GetApiV1UtilGroupsMembersRequestObject) (gen.GetApiV1UtilGroupsMembersResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilLatencyMetrics(context.Context, gen.GetApiV1UtilLatencyMetricsRequestObject) (gen.GetApiV1UtilLatencyMetricsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilLatencyRaw(context.Context, gen.GetApiV1UtilLatencyRawRequestObject) (gen.GetApiV1UtilLatencyRawResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilLatencyStages(context.Context, gen.GetApiV1UtilLatencyStagesRequestObject) (gen.GetApiV1UtilLatencyStagesResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilOrders(context.Context, gen.GetApiV1UtilOrdersRequestObject) (gen.GetApiV1UtilOrdersResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilPermissions(context.Context, gen.GetApiV1UtilPermissionsRequestObject) (gen.GetApiV1UtilPermissionsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilReference(context.Context, gen.GetApiV1UtilReferenceRequestObject) (gen.GetApiV1UtilReferenceResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilRequests(context.Context, gen.GetApiV1UtilRequestsRequestObject) (gen.GetApiV1UtilRequestsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilRequestsRequestId(context.Context, gen.GetApiV1UtilRequestsRequestIdRequestObject) (gen.GetApiV1UtilRequestsRequestIdResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetApiV1UtilSearch(context.Context, gen.GetApiV1UtilSearchRequestObject) (gen.GetApiV1UtilSearchResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) ListIoiAdvertisements(context.Context, gen.ListIoiAdvertisementsRequestObject) (gen.ListIoiAdvertisementsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1OrdersCancel(context.Context, gen.PostApiV1OrdersCancelRequestObject) (gen.PostApiV1OrdersCancelResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1OrdersIoi(context.Context, gen.PostApiV1OrdersIoiRequestObject) (gen.PostApiV1OrdersIoiResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1OrdersKquote(context.Context, gen.PostApiV1OrdersKquoteRequestObject) (gen.PostApiV1OrdersKquoteResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1OrdersKquoteCancel(context.Context, gen.PostApiV1OrdersKquoteCancelRequestObject) (gen.PostApiV1OrdersKquoteCancelResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1OrdersNew(context.Context, gen.PostApiV1OrdersNewRequestObject) (gen.PostApiV1OrdersNewResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1OrdersQuote(context.Context, gen.PostApiV1OrdersQuoteRequestObject) (gen.PostApiV1OrdersQuoteResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1OrdersQuoteResponse(context.Context, gen.PostApiV1OrdersQuoteResponseRequestObject) (gen.PostApiV1OrdersQuoteResponseResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1OrdersReplace(context.Context, gen.PostApiV1OrdersReplaceRequestObject) (gen.PostApiV1OrdersReplaceResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1UtilAdminPermissions(context.Context, gen.PostApiV1UtilAdminPermissionsRequestObject) (gen.PostApiV1UtilAdminPermissionsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1UtilFirmsTraders(context.Context, gen.PostApiV1UtilFirmsTradersRequestObject) (gen.PostApiV1UtilFirmsTradersResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1UtilGroups(context.Context, gen.PostApiV1UtilGroupsRequestObject) (gen.PostApiV1UtilGroupsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1UtilGroupsMove(context.Context, gen.PostApiV1UtilGroupsMoveRequestObject) (gen.PostApiV1UtilGroupsMoveResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1UtilReference(context.Context, gen.PostApiV1UtilReferenceRequestObject) (gen.PostApiV1UtilReferenceResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1UtilRequests(context.Context, gen.PostApiV1UtilRequestsRequestObject) (gen.PostApiV1UtilRequestsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1UtilRequestsRequestIdApprove(context.Context, gen.PostApiV1UtilRequestsRequestIdApproveRequestObject) (gen.PostApiV1UtilRequestsRequestIdApproveResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1UtilRequestsRequestIdCancel(context.Context, gen.PostApiV1UtilRequestsRequestIdCancelRequestObject) (gen.PostApiV1UtilRequestsRequestIdCancelResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostApiV1UtilRequestsRequestIdReject(context.Context, gen.PostApiV1UtilRequestsRequestIdRejectRequestObject) (gen.PostApiV1UtilRequestsRequestIdRejectResponseObject, error) {
	return nil, errNotImplemented
}
