"""A Cloudflare Python Worker, unchanged: GET /hello answers with JSON."""

from workers import Request, Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request: Request) -> Response:
        return Response.json({"hello": self.env.GREETING, "method": request.method})
