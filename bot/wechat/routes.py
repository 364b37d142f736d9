"""/wechat webhook and /simulator. (issue 3)"""
from fastapi import APIRouter

router = APIRouter()
