"""Reference lists an enterprise profile is made of: GB/T 4754-2017 sections, scales, the city's districts."""

from __future__ import annotations

# GB/T 4754-2017 sections: letter -> name.
INDUSTRIES: dict[str, str] = {
    "A": "农、林、牧、渔业", "B": "采矿业", "C": "制造业", "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业", "F": "批发和零售业", "G": "交通运输、仓储和邮政业", "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业", "J": "金融业", "K": "房地产业", "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业", "N": "水利、环境和公共设施管理业", "O": "居民服务、修理和其他服务业",
    "P": "教育", "Q": "卫生和社会工作", "R": "文化、体育和娱乐业", "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}

# Enterprise scale (工信部联企业〔2011〕300号).
SCALES: tuple[str, ...] = ("大型", "中型", "小型", "微型")

# Zhaoqing's districts and development zones.
DISTRICTS: tuple[str, ...] = (
    "端州区", "鼎湖区", "高要区", "四会市", "广宁县", "怀集县", "封开县", "德庆县", "肇庆高新区", "肇庆新区",
)
