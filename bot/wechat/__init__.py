"""The WeChat official-account channel (wechatpy does the protocol)."""
