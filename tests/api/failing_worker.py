"""A worker whose one route raises, behind the PerformanceMonitor (tests/api/test_monitor.py)."""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from workers.api.monitor import PerformanceMonitor


async def boom(request):
    raise RuntimeError("kaboom")


app = Starlette(
    routes=[Route("/boom", boom)], middleware=[Middleware(PerformanceMonitor, worker="t")]
)
