"""/console/ pages. (issue 5)"""
from fastapi import APIRouter

router = APIRouter()
