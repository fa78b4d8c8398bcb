"""Media pipeline: sniff uploads, probe them with ffprobe, transcode them into H.264/AAC renditions."""
