//! Media and data over the two peer connections: str0m's events, our audio, data channels.

use std::time::Instant;

use livekit_protocol as proto;
use str0m::Event;
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaTime};

use super::{OPUS_FRAME_TICKS, REQUEST_TIMEOUT, Reply};
use crate::room::data::{self, Delivery, Payload};
use crate::room::{RemoteAudio, RoomError, RoomEvent};

impl super::Driver {
    pub(super) fn on_rtc_event(&mut self, target: proto::SignalTarget, event: Event) {
        match event {
            Event::IceConnectionStateChange(state) => {
                tracing::debug!(?target, ?state, "ICE state");
                let down = matches!(state, str0m::IceConnectionState::Disconnected);
                if down {
                    self.media_down_since.get_or_insert(Instant::now());
                } else if self.publisher.rtc.is_connected() && self.subscriber.rtc.is_connected() {
                    self.media_down_since = None;
                }
            }
            Event::Connected if target == proto::SignalTarget::Publisher => {
                self.publisher_up = true;
                self.announce_published();
            }
            Event::MediaAdded(added) => {
                // The server names the track in the msid of each m-line it offers.
                if let Some(media) = self.subscriber.rtc.media(added.mid) {
                    self.mid_tracks
                        .entry(added.mid)
                        .or_insert_with(|| media.track_id().to_owned());
                }
            }
            Event::MediaData(data) if target == proto::SignalTarget::Subscriber => {
                let Some(track_sid) = self.mid_tracks.get(&data.mid) else {
                    return;
                };
                let identity = self
                    .remotes
                    .publisher_of(track_sid)
                    .unwrap_or_default()
                    .to_owned();
                self.room_events.push(RoomEvent::Audio(RemoteAudio {
                    identity,
                    track_sid: track_sid.clone(),
                    seq: **data.seq_range.start(),
                    rtp_time: data.time.numer(),
                    contiguous: data.contiguous,
                    opus: data.data.to_vec(),
                }));
            }
            Event::ChannelOpen(id, label) => {
                tracing::debug!(?target, label, "data channel open");
                if target == proto::SignalTarget::Publisher {
                    for (_, (out_id, open)) in self.out_channels.iter_mut() {
                        if *out_id == id {
                            *open = true;
                        }
                    }
                } else if let Some(delivery) = [Delivery::Reliable, Delivery::Lossy]
                    .into_iter()
                    .find(|d| d.label() == label)
                {
                    self.in_channels.insert((target, id), delivery);
                }
            }
            Event::ChannelData(chunk) => {
                let Some(delivery) = self.in_channels.get(&(target, chunk.id)).copied() else {
                    return;
                };
                match data::decode(&chunk.data, delivery) {
                    Ok(Some(received)) => self.room_events.push(RoomEvent::Data(received)),
                    Ok(None) => {}
                    Err(e) => tracing::debug!(error = %e, "undecodable data packet"),
                }
            }
            _ => {}
        }
    }

    pub(super) fn announce_published(&mut self) {
        if self.published || !self.publisher_up {
            return;
        }
        if let Some(track_sid) = self.track_sid.clone() {
            self.published = true;
            self.room_events.push(RoomEvent::Published {
                track_sid,
                after: self.started.elapsed(),
            });
        }
    }

    pub(super) fn write_audio(&mut self, opus: Vec<u8>) {
        let now = Instant::now();
        let rtp_time = MediaTime::new(self.rtp_time, Frequency::FORTY_EIGHT_KHZ);
        // Time advances with every frame handed to us, sent or not, so the far end's jitter
        // buffer sees a steady clock.
        self.rtp_time += OPUS_FRAME_TICKS;
        let Some(writer) = self.publisher.rtc.writer(self.audio_mid) else {
            return;
        };
        let Some(pt) = writer
            .payload_params()
            .find(|p| p.spec().codec == Codec::Opus)
            .map(|p| p.pt())
        else {
            return;
        };
        if let Err(e) = writer.write(pt, now, rtp_time, opus) {
            tracing::debug!(error = %e, "audio frame not written");
        } else if self.published && !self.audio_sent {
            self.audio_sent = true;
            self.room_events.push(RoomEvent::AudioSent {
                after: self.started.elapsed(),
            });
        }
    }

    pub(super) fn send_data(
        &mut self,
        payload: &Payload,
        delivery: Delivery,
        destinations: &[String],
        done: Reply,
    ) {
        let bytes = data::encode(payload, delivery, destinations);
        match self.out_channels.get(&delivery) {
            Some((id, true)) => {
                let id = *id;
                let _ = done.send(self.write_channel(id, &bytes));
            }
            // Not open yet (the first seconds after joining): hold it until it is.
            _ => self
                .queued_data
                .push((delivery, bytes, done, Instant::now() + REQUEST_TIMEOUT)),
        }
    }

    pub(super) fn write_channel(&mut self, id: ChannelId, bytes: &[u8]) -> Result<(), RoomError> {
        let Some(mut channel) = self.publisher.rtc.channel(id) else {
            return Err(RoomError::Refused("the data channel is closed".into()));
        };
        let written = channel.write(true, bytes);
        self.settle();
        match written {
            Ok(true) => Ok(()),
            Ok(false) => Err(RoomError::Refused(
                "the data channel's send buffer is full".into(),
            )),
            Err(e) => Err(RoomError::Refused(e.to_string())),
        }
    }

    pub(super) fn flush_queued_data(&mut self) {
        let now = Instant::now();
        for (delivery, bytes, done, deadline) in std::mem::take(&mut self.queued_data) {
            match self.out_channels.get(&delivery) {
                Some((id, true)) => {
                    let id = *id;
                    let _ = done.send(self.write_channel(id, &bytes));
                }
                _ if now >= deadline => {
                    let _ = done.send(Err(RoomError::NoAnswer(REQUEST_TIMEOUT)));
                }
                _ => self.queued_data.push((delivery, bytes, done, deadline)),
            }
        }
    }
}
