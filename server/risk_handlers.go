package server

import (
	"context"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/store"
)

// The Portfolio & Risk reads. Account data is scoped by the caller's
// grants (server/risk); exact decimals become the contract's doubles here.

// GetAPIV1OmsAdminMappings lists the mappings of the caller's granted accounts.
func (s *Server) GetAPIV1OmsAdminMappings(ctx context.Context, _ gen.GetAPIV1OmsAdminMappingsRequestObject) (gen.GetAPIV1OmsAdminMappingsResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	as, err := s.svc.Risk.Accounts(ctx, p.Email)
	if err != nil {
		return nil, err
	}
	out := make(gen.GetAPIV1OmsAdminMappings200JSONResponse, 0, len(as))
	for _, a := range as {
		out = append(out, mappingView(a))
	}
	return out, nil
}

// GetAPIV1OmsAdminMappingsAccountCode answers one mapping; 404 without a grant.
func (s *Server) GetAPIV1OmsAdminMappingsAccountCode(ctx context.Context, req gen.GetAPIV1OmsAdminMappingsAccountCodeRequestObject) (gen.GetAPIV1OmsAdminMappingsAccountCodeResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	a, err := s.svc.Risk.Account(ctx, p.Email, req.AccountCode)
	if err != nil {
		return nil, err
	}
	return gen.GetAPIV1OmsAdminMappingsAccountCode200JSONResponse(mappingView(a)), nil
}

// GetAPIV1OmsRiskAccounts lists cash and holdings of the caller's granted accounts.
func (s *Server) GetAPIV1OmsRiskAccounts(ctx context.Context, _ gen.GetAPIV1OmsRiskAccountsRequestObject) (gen.GetAPIV1OmsRiskAccountsResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	as, err := s.svc.Risk.Accounts(ctx, p.Email)
	if err != nil {
		return nil, err
	}
	out := make(gen.GetAPIV1OmsRiskAccounts200JSONResponse, 0, len(as))
	for _, a := range as {
		out = append(out, accountView(a))
	}
	return out, nil
}

// GetAPIV1OmsRiskAccountsAccountID answers one account's cash and holdings; 404 without a grant.
func (s *Server) GetAPIV1OmsRiskAccountsAccountID(ctx context.Context, req gen.GetAPIV1OmsRiskAccountsAccountIDRequestObject) (gen.GetAPIV1OmsRiskAccountsAccountIDResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	a, err := s.svc.Risk.Account(ctx, p.Email, req.AccountID)
	if err != nil {
		return nil, err
	}
	return gen.GetAPIV1OmsRiskAccountsAccountID200JSONResponse(accountView(a)), nil
}

// GetAPIV1OmsRiskRules lists the OMS risk rules in force.
func (s *Server) GetAPIV1OmsRiskRules(ctx context.Context, _ gen.GetAPIV1OmsRiskRulesRequestObject) (gen.GetAPIV1OmsRiskRulesResponseObject, error) {
	rs, err := s.svc.Risk.RiskRules(ctx)
	if err != nil {
		return nil, err
	}
	out := make(gen.GetAPIV1OmsRiskRules200JSONResponse, 0, len(rs))
	for _, r := range rs {
		out = append(out, gen.RuleView{Kind: ptr(r.Kind), Scope: ptr(r.Scope), Target: ptr(r.Target), Value: ptr(r.Value.InexactFloat64())})
	}
	return out, nil
}

// GetAPIV1OrdersRiskRules lists the order restriction rules in force.
func (s *Server) GetAPIV1OrdersRiskRules(ctx context.Context, _ gen.GetAPIV1OrdersRiskRulesRequestObject) (gen.GetAPIV1OrdersRiskRulesResponseObject, error) {
	rs, err := s.svc.Risk.OrderRiskRules(ctx)
	if err != nil {
		return nil, err
	}
	data := make([]gen.OrderRestrictionRule, 0, len(rs))
	for _, r := range rs {
		data = append(data, gen.OrderRestrictionRule{Kind: r.Kind, Scope: gen.OrderRestrictionRuleScope(r.Scope),
			Target: r.Target, Match: r.Match, Value: r.Value.InexactFloat64()})
	}
	return gen.GetAPIV1OrdersRiskRules200JSONResponse{IsSuccess: ptr(true), Detail: ptr(""), Data: &data}, nil
}

func mappingView(a store.Account) gen.MappingView {
	return gen.MappingView{
		AccountCode:        ptr(a.AccountCode),
		Name:               ptr(a.Name),
		InternalClientCode: ptr(a.InternalClientCode),
		ClientCode:         ptr(a.ClientCode),
		CompID:             ptr(a.CompID),
		AccountType:        ptr(a.AccountType),
		InvestCode:         ptr(a.InvestCode),
		FornInvestTypeCode: ptr(a.FornInvestTypeCode),
		IsMmAccount:        ptr(a.IsMMAccount),
		SenderSubID:        ptr(a.SenderSubID),
		Email:              ptr(a.Email),
		Phone:              ptr(a.Phone),
	}
}

// accountView is the risk engine's view: decimals become doubles here and
// nowhere else.
func accountView(a store.Account) gen.AccountView {
	hs := make([]gen.HoldingView, 0, len(a.Holdings))
	for _, h := range a.Holdings {
		due := make([]gen.OmsdDueQuantity, 0, len(h.Pending))
		for _, d := range h.Pending {
			due = append(due, gen.OmsdDueQuantity{SettleDate: dateOf(d.Date), Qty: d.Qty})
		}
		hs = append(hs, gen.HoldingView{
			Symbol:         ptr(h.Symbol),
			SellableQty:    ptr(h.SellableQty),
			HoldQty:        ptr(h.HoldQty),
			AvgPrice:       ptr(h.AvgPrice.InexactFloat64()),
			OmsdPendingQty: ptr(h.PendingQty()),
			OmsdPending:    &due,
		})
	}
	cashDue := make([]gen.OmsdDueCash, 0, len(a.CashPending))
	for _, d := range a.CashPending {
		cashDue = append(cashDue, gen.OmsdDueCash{SettleDate: dateOf(d.Date), Amount: d.Amount.InexactFloat64()})
	}
	return gen.AccountView{
		AccountID:          ptr(a.AccountCode),
		CashAvailable:      ptr(a.CashAvailable.InexactFloat64()),
		CashHold:           ptr(a.CashHold.Add(a.PositionMargin()).InexactFloat64()), // orders' holds and futures margin
		OmsdCashPending:    ptr(a.PendingCash().InexactFloat64()),
		OmsdCashPendingDue: &cashDue,
		BypassCash:         ptr(a.BypassCash),
		BypassStock:        ptr(a.BypassStock),
		Holdings:           &hs,
	}
}

// dateOf is a stored YYYY-MM-DD date on the wire (the store writes only
// valid dates; a bad one shows as the zero date rather than failing a read).
func dateOf(s string) openapi_types.Date {
	t, _ := time.Parse(time.DateOnly, s)
	return openapi_types.Date{Time: t}
}
