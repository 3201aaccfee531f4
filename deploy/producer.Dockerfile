# The compose file's producer: deploy/produce_quotes_orders.py with
# confluent-kafka, writing Avro quotes and orders through the schema registry.
FROM python:3.11-slim
RUN pip install --no-cache-dir "confluent-kafka[avro,schemaregistry]==2.16.*" \
    && useradd --system --uid 10002 --no-create-home producer
COPY deploy/produce_quotes_orders.py /app/produce_quotes_orders.py
USER 10002
ENTRYPOINT ["python", "/app/produce_quotes_orders.py"]
