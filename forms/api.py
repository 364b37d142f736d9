"""POST /api/check/{form}. (issue 4)"""
from fastapi import APIRouter

router = APIRouter()
