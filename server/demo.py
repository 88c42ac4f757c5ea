"""The demo centre: a provincial centre like Bắc Ninh's, 6 receiving teams, a fee desk (bank /
treasury) and a result-return team, 23 counters, with the 349 sample procedures routed to teams
by field, step routes (receive -> fee -> result for land, construction and driving licences,
receive -> result for social protection), demo users and device tokens."""

from __future__ import annotations

from .config import Config, Counter, PriorityPolicy, Route, RouteStep, Team

CENTRE = "Trung tâm Phục vụ Hành chính công tỉnh Bắc Ninh"

TEAMS = [
    Team(1, "Tổ Tư pháp – Hộ tịch – Chứng thực", (1001, 1999),
         name_en="Justice, civil status and certification",
         fields=["Hộ tịch", "Hộ tịch (liên thông)", "Chứng thực", "Nuôi con nuôi", "Quốc tịch",
                 "Lý lịch tư pháp", "Công chứng", "Luật sư", "Trợ giúp pháp lý",
                 "Hòa giải ở cơ sở", "Bồi thường nhà nước", "Đấu giá tài sản",
                 "Đăng ký biện pháp bảo đảm"]),
    Team(2, "Tổ Đất đai – Tài nguyên – Môi trường", (2001, 2999),
         name_en="Land, natural resources and environment",
         fields=["Đất đai", "Môi trường", "Tài nguyên nước", "Địa chất và khoáng sản",
                 "Lâm nghiệp", "Thủy sản", "Thú y", "Trồng trọt và Bảo vệ thực vật",
                 "Trồng trọt", "Chăn nuôi", "Thủy lợi",
                 "Kinh tế hợp tác và Phát triển nông thôn",
                 "Quản lý chất lượng nông lâm sản và thủy sản",
                 "Quản lý đê điều và phòng, chống thiên tai"]),
    Team(3, "Tổ Đăng ký kinh doanh – Đầu tư – Công thương", (3001, 3999),
         name_en="Business registration, investment and trade",
         fields=["Thành lập và hoạt động của doanh nghiệp",
                 "Thành lập và hoạt động doanh nghiệp (hộ kinh doanh)",
                 "Thành lập và hoạt động của tổ hợp tác, hợp tác xã, liên hiệp hợp tác xã",
                 "Đầu tư tại Việt Nam", "Lưu thông hàng hóa trong nước",
                 "Hỗ trợ doanh nghiệp nhỏ và vừa", "Quản lý bán hàng đa cấp", "Điện",
                 "Kinh doanh khí", "Xuất nhập khẩu", "Khuyến công, cụm công nghiệp",
                 "Vận chuyển hàng hóa nguy hiểm", "An toàn thực phẩm", "Dược phẩm",
                 "Khoa học và Công nghệ"]),
    Team(4, "Tổ Xây dựng – Giao thông", (4001, 4999),
         name_en="Construction and transport",
         fields=["Hoạt động xây dựng", "Nhà ở và công sở", "Kiến trúc",
                 "Quy hoạch đô thị và nông thôn", "Hạ tầng kỹ thuật",
                 "Kinh doanh bất động sản", "Đường bộ", "Sát hạch, cấp giấy phép lái xe",
                 "Hàng hải và đường thủy nội địa", "Đăng kiểm"]),
    Team(5, "Tổ Lao động – Xã hội – Y tế – Giáo dục", (5001, 5999),
         name_en="Labour, social affairs, health and education",
         fields=["Người có công", "Bảo trợ xã hội", "Việc làm", "Thực hiện chính sách BHXH",
                 "Giảm nghèo", "Lao động", "Lao động - Tiền lương", "Trẻ em",
                 "Quản lý lao động ngoài nước", "Giáo dục và Đào tạo", "Thi, tuyển sinh",
                 "Văn bằng, chứng chỉ", "Khám bệnh, chữa bệnh", "Công chức, viên chức",
                 "Công tác dân tộc"]),
    Team(6, "Tổ Công an – Cư trú – Căn cước và lĩnh vực khác", (6001, 6999),
         name_en="Police, residence, identity and other fields",
         fields=["Đăng ký, quản lý cư trú", "Cấp, quản lý căn cước", "Quản lý xuất nhập cảnh",
                 "Đăng ký, quản lý phương tiện giao thông cơ giới, xe máy chuyên dùng",
                 "Phòng cháy, chữa cháy", "*"]),
    # steps of a visit (docs/visit.md "Several steps under one number"): no fields of their
    # own; tickets reach them by a step route (or a dossier's result, or a transfer)
    Team(7, "Thu phí – Ngân hàng/Kho bạc", (7001, 7999),
         name_en="Fees – bank / treasury desk"),
    Team(8, "Trả kết quả", (8001, 8999), name_en="Result return"),
]

# counter -> teams it serves, in its own order (a few counters help a second team)
COUNTER_TEAMS = {
    1: [1], 2: [1], 3: [1], 4: [1], 5: [1], 6: [1, 5],
    7: [2], 8: [2], 9: [2], 10: [2, 4],
    11: [3], 12: [3], 13: [3], 14: [3, 1],
    15: [4], 16: [4], 17: [4, 2],
    18: [5], 19: [5], 20: [5, 6],
    21: [6], 22: [7], 23: [8, 6],
}

FEE_TEAM, RESULT_TEAM = 7, 8
# a visit of several steps under one number (docs/visit.md): the fee step is skipped for a
# procedure without a fee ("Miễn phí", none given)
ROUTES = [
    ("Đất đai: tiếp nhận → thu phí → trả kết quả", ["Đất đai"], 2, True),
    ("Xây dựng, giấy phép lái xe: tiếp nhận → thu phí → trả kết quả",
     ["Hoạt động xây dựng", "Sát hạch, cấp giấy phép lái xe"], 4, True),
    ("Bảo trợ xã hội: tiếp nhận → trả kết quả", ["Bảo trợ xã hội"], 5, False),
]


def demo_routes() -> list[Route]:
    return [Route([RouteStep(team, "receive")]
                  + ([RouteStep(FEE_TEAM, "fee")] if fee else [])
                  + [RouteStep(RESULT_TEAM, "result")], name=name, fields=list(fields))
            for name, fields, team, fee in ROUTES]


# What to bring for the most asked-for procedures: their documents, fees and processing
# times come from their public records in server/data/procedure-records.json, which the
# importer applies to every catalogue (the demo's too); nothing extra for the demo here.
DOCUMENTS: dict[str, list[str]] = {}


def demo_config(public_url: str = "http://127.0.0.1:5000") -> Config:
    counters = [Counter(n, teams, name=f"Quầy {n}") for n, teams in COUNTER_TEAMS.items()]
    return Config(
        name=CENTRE, name_en="Bac Ninh Public Administration Service Centre",
        public_url=public_url, target_wait_min=15, enforce_hours=False,
        hours={d: [["07:30", "11:30"], ["13:30", "17:00"]]
               for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [["07:30", "11:30"]]},
        teams=[Team(t.id, t.name, t.band, name_en=t.name_en, fields=list(t.fields))
               for t in TEAMS],
        counters=counters, priority=PriorityPolicy("ratio", ratio=2), routes=demo_routes(),
        demo=True,
        notice="Trung tâm làm việc từ 7h30 đến 17h00, từ thứ Hai đến sáng thứ Bảy. "
               "Công dân vui lòng lấy số thứ tự và chờ gọi.")


DEMO_PASSWORD = "demo1234"


def demo_users() -> list[dict]:
    users = [{"username": "admin", "role": "admin", "full_name": "Quản trị hệ thống"},
             {"username": "giamdoc", "role": "manager", "full_name": "Nguyễn Văn Giám Đốc"}]
    for n in COUNTER_TEAMS:
        users.append({"username": f"canbo{n:02d}", "role": "officer",
                      "full_name": f"Cán bộ quầy {n}", "counters": [n]})
    return users


DEMO_DEVICES = [("kiosk-1", "kiosk", []), ("display-1", "display", []),
                ("bridge-1", "bridge", list(COUNTER_TEAMS))]
