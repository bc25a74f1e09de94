# One image for every framesift service; the command picks the service (`framesift run ingest`).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY protos ./protos
COPY framesift ./framesift
# The build generates framesift/v1 from protos/ (grpcio-tools is a build requirement).
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 framesift
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER framesift
WORKDIR /home/framesift
ENV FRAMESIFT_HTTP_HOST=0.0.0.0 FRAMESIFT_DATA_DIR=/home/framesift/data
EXPOSE 8080 50051
ENTRYPOINT ["framesift"]
CMD ["up"]
