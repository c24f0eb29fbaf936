"""The aiohttp service: campaigns, the collectors' queue, account history, managers' reports."""
