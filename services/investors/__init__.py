"""Investor loans through InvestorPool, a repayment policy, status per investor."""
