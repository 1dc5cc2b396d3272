//! MQTT bus connection for Zählwerk services: reconnect with back-off, resubscribe, bounded inbound queue with counted drops.
